"""Watches through `kubernetes.watch.Watch().stream(...)`: event order, resume points, initial
events, bookmarks, selectors, dropped streams and expired history (410).

Every watch passes timeout_seconds, so the client never retries on its own (Watch.stream only
retries when timeout_seconds is absent) and every stream ends on the server's timer at the latest.
"""

from __future__ import annotations

import time
from types import SimpleNamespace
from typing import List

import pytest
from kubernetes import client
from kubernetes.client.exceptions import ApiException

from conftest import (
    SECRETSYNC,
    Event,
    condition,
    config_map,
    create_namespace,
    make_api_client,
    names,
    rv,
    secret,
    secretsync_body,
    unique_name,
    watch_events,
)


def kinds(events: List[Event]) -> List[str]:
    return [e.type for e in events]


def not_bookmarks(events: List[Event]) -> List[Event]:
    return [e for e in events if e.type != "BOOKMARK"]


def list_rv(core, namespace: str) -> str:
    return core.list_namespaced_config_map(namespace).metadata.resource_version


# --------------------------------------------------------------------------------------------
# Event order, resume, initial events
# --------------------------------------------------------------------------------------------


def test_added_modified_deleted_in_order(core, namespace):
    start = list_rv(core, namespace)
    created = core.create_namespaced_config_map(namespace, config_map("x", {"k": "v1"}))
    modified = core.patch_namespaced_config_map("x", namespace, {"data": {"k": "v2"}})
    core.delete_namespaced_config_map("x", namespace)

    events = watch_events(core.list_namespaced_config_map, namespace, resource_version=start, timeout_seconds=2)
    assert kinds(events) == ["ADDED", "MODIFIED", "DELETED"], f"events after resourceVersion {start}: {events}"
    assert names(events) == ["x", "x", "x"]
    added, mod, deleted = events
    assert added.rv == rv(created), f"ADDED carries the created resourceVersion: {added} vs {rv(created)}"
    assert mod.rv == rv(modified), f"MODIFIED carries the patched resourceVersion: {mod} vs {rv(modified)}"
    assert deleted.rv > mod.rv, f"DELETED carries the deletion's (newer) resourceVersion: {deleted}"
    assert added.raw["data"] == {"k": "v1"} and mod.raw["data"] == {"k": "v2"} and deleted.raw["data"] == {"k": "v2"}
    assert added.raw.get("kind") == "ConfigMap" and added.raw.get("apiVersion") == "v1", added.raw


def test_live_events_reach_an_open_watch(core, namespace, background_watches):
    bw = background_watches(
        core.list_namespaced_config_map, namespace, resource_version=list_rv(core, namespace), allow_watch_bookmarks=True, timeout_seconds=30
    )
    bw.wait_for(lambda evs: any(e.type == "BOOKMARK" for e in evs), timeout=5, what="a first BOOKMARK (stream established)")
    core.create_namespaced_config_map(namespace, config_map("live"))
    core.patch_namespaced_config_map("live", namespace, {"data": {"k": "v2"}})
    core.delete_namespaced_config_map("live", namespace)
    events = bw.wait_for(lambda evs: len(not_bookmarks(evs)) >= 3, timeout=5, what="ADDED, MODIFIED, DELETED")
    assert kinds(not_bookmarks(events)) == ["ADDED", "MODIFIED", "DELETED"], events


@pytest.mark.parametrize("resource_version", [None, "0"], ids=["no-resourceVersion", "resourceVersion-0"])
def test_initial_added_events_then_live_events(core, namespace, background_watches, resource_version):
    objs = {n: core.create_namespaced_config_map(namespace, config_map(n)) for n in ("a", "b", "c")}
    kwargs = {} if resource_version is None else {"resource_version": resource_version}
    bw = background_watches(core.list_namespaced_config_map, namespace, timeout_seconds=30, **kwargs)
    initial = bw.wait_for(lambda evs: len(evs) >= 3, timeout=5, what="one synthetic ADDED per existing object")
    assert kinds(initial[:3]) == ["ADDED"] * 3, initial
    assert sorted(names(initial[:3])) == ["a", "b", "c"]
    assert {e.name: e.rv for e in initial[:3]} == {n: rv(o) for n, o in objs.items()}, "synthetic ADDED events carry current objects"
    patched = core.patch_namespaced_config_map("b", namespace, {"data": {"k": "new"}})
    events = bw.wait_for(lambda evs: len(evs) >= 4, timeout=5, what="MODIFIED after the initial events")
    assert len(events) == 4 and (events[3].type, events[3].name, events[3].rv) == ("MODIFIED", "b", rv(patched)), events


def test_resume_from_a_resource_version(core, namespace):
    a = core.create_namespaced_config_map(namespace, config_map("a"))
    core.create_namespaced_config_map(namespace, config_map("b"))
    core.patch_namespaced_config_map("a", namespace, {"data": {"k": "2"}})
    core.create_namespaced_config_map(namespace, config_map("c"))
    events = watch_events(core.list_namespaced_config_map, namespace, resource_version=a.metadata.resource_version, timeout_seconds=2)
    assert [(e.type, e.name) for e in events] == [("ADDED", "b"), ("MODIFIED", "a"), ("ADDED", "c")], (
        f"a watch from resourceVersion {a.metadata.resource_version} delivers exactly the later changes: {events}"
    )
    assert [e.rv for e in events] == sorted(e.rv for e in events)


# --------------------------------------------------------------------------------------------
# Bookmarks and timeouts
# --------------------------------------------------------------------------------------------


def test_bookmarks_when_requested(core, namespace):
    a = core.create_namespaced_config_map(namespace, config_map("a"))
    events = watch_events(
        core.list_namespaced_config_map,
        namespace,
        resource_version=a.metadata.resource_version,
        allow_watch_bookmarks=True,
        timeout_seconds=4,
        until=lambda evs: any(e.type == "BOOKMARK" for e in evs),
    )
    bookmarks = [e for e in events if e.type == "BOOKMARK"]
    assert bookmarks, f"no BOOKMARK within 4 s with a 1 s bookmark interval: {events}"
    bm = bookmarks[0].raw
    assert bm.get("kind") == "ConfigMap" and bm.get("apiVersion") == "v1", f"bookmark object: {bm}"
    assert "name" not in (bm.get("metadata") or {}), f"a bookmark names no object: {bm}"
    assert bookmarks[0].rv >= rv(a), f"bookmark resourceVersion {bookmarks[0].rv} is older than the watch start {rv(a)}"

    core.create_namespaced_config_map(namespace, config_map("b"))
    resumed = watch_events(
        core.list_namespaced_config_map,
        namespace,
        resource_version=str(bookmarks[0].rv),
        timeout_seconds=3,
        until=lambda evs: len(evs) >= 1,
    )
    assert [(e.type, e.name) for e in resumed] == [("ADDED", "b")], f"resuming from a bookmark: {resumed}"


def test_no_bookmarks_unless_requested(core, namespace):
    events = watch_events(core.list_namespaced_config_map, namespace, resource_version=list_rv(core, namespace), timeout_seconds=2)
    assert events == [], f"nothing changed and bookmarks were not requested: {events}"


def test_timeout_seconds_ends_the_stream(core, namespace):
    started = time.monotonic()
    events = watch_events(core.list_namespaced_config_map, namespace, resource_version=list_rv(core, namespace), timeout_seconds=1)
    elapsed = time.monotonic() - started
    assert events == []
    assert 0.8 <= elapsed < 5, f"timeoutSeconds=1 stream lasted {elapsed:.2f} s"


# --------------------------------------------------------------------------------------------
# Selectors and scopes
# --------------------------------------------------------------------------------------------


def test_selectors_apply_to_watches(core, namespace):
    start = list_rv(core, namespace)
    core.create_namespaced_config_map(namespace, config_map("a", labels={"app": "web"}))
    core.create_namespaced_config_map(namespace, config_map("b", labels={"app": "db"}))
    core.create_namespaced_config_map(namespace, config_map("c", labels={"app": "web"}))
    core.create_namespaced_secret(namespace, secret("s-opaque"))
    core.create_namespaced_secret(namespace, secret("s-custom", type_="example.com/custom"))

    by_label = watch_events(core.list_namespaced_config_map, namespace, resource_version=start, label_selector="app=web", timeout_seconds=2)
    assert [(e.type, e.name) for e in by_label] == [("ADDED", "a"), ("ADDED", "c")], by_label
    by_name = watch_events(core.list_namespaced_config_map, namespace, resource_version=start, field_selector="metadata.name=b", timeout_seconds=2)
    assert [(e.type, e.name) for e in by_name] == [("ADDED", "b")], by_name
    by_type = watch_events(core.list_namespaced_secret, namespace, resource_version=start, field_selector="type=example.com/custom", timeout_seconds=2)
    assert [(e.type, e.name) for e in by_type] == [("ADDED", "s-custom")], by_type


def test_object_leaving_and_entering_a_selector(core, namespace):
    start = list_rv(core, namespace)
    core.create_namespaced_config_map(namespace, config_map("m", labels={"app": "web"}))
    core.patch_namespaced_config_map("m", namespace, {"metadata": {"labels": {"app": "db"}}})
    core.patch_namespaced_config_map("m", namespace, {"data": {"k": "unseen"}})
    core.patch_namespaced_config_map("m", namespace, {"metadata": {"labels": {"app": "web"}}})
    events = watch_events(core.list_namespaced_config_map, namespace, resource_version=start, label_selector="app=web", timeout_seconds=2)
    assert kinds(events) == ["ADDED", "DELETED", "ADDED"], (
        f"like kube-apiserver, a filtered watch reports an object that stops matching as DELETED and one that starts matching as ADDED: {events}"
    )


def test_watch_across_all_namespaces(core, make_namespace):
    ns1, ns2 = make_namespace("w-a"), make_namespace("w-b")
    mark = unique_name("mark")
    start = core.list_config_map_for_all_namespaces(limit=1).metadata.resource_version
    core.create_namespaced_config_map(ns1, config_map("one", labels={"mark": mark}))
    core.create_namespaced_config_map(ns2, config_map("two", labels={"mark": mark}))
    events = watch_events(
        core.list_config_map_for_all_namespaces,
        resource_version=start,
        label_selector=f"mark={mark}",
        timeout_seconds=3,
        until=lambda evs: len(evs) >= 2,
    )
    assert [(e.type, e.namespace, e.name) for e in events] == [("ADDED", ns1, "one"), ("ADDED", ns2, "two")], events


def test_watch_custom_resources_including_status_changes(custom, namespace):
    start = custom.list_namespaced_custom_object(**SECRETSYNC, namespace=namespace)["metadata"]["resourceVersion"]
    custom.create_namespaced_custom_object(**SECRETSYNC, namespace=namespace, body=secretsync_body("ss"))
    custom.patch_namespaced_custom_object_status(**SECRETSYNC, namespace=namespace, name="ss", body={"status": {"conditions": [condition("Create")]}})
    custom.patch_namespaced_custom_object(**SECRETSYNC, namespace=namespace, name="ss", body={"spec": {"serviceAccountName": "other"}})
    events = watch_events(
        custom.list_namespaced_custom_object, **SECRETSYNC, namespace=namespace, resource_version=start, timeout_seconds=3, until=lambda evs: len(evs) >= 3
    )
    assert kinds(events) == ["ADDED", "MODIFIED", "MODIFIED"], events
    assert [e.raw["metadata"]["generation"] for e in events] == [1, 1, 2]
    assert events[1].raw["status"]["conditions"][0]["type"] == "Create"
    assert events[0].raw["kind"] == "SecretSync"


# --------------------------------------------------------------------------------------------
# Dropped streams, compaction, restart
# --------------------------------------------------------------------------------------------


def test_dropped_watch_resumes_without_gaps(kube_server, core, namespace, background_watches):
    bw = background_watches(core.list_namespaced_config_map, namespace, resource_version=list_rv(core, namespace), timeout_seconds=30)
    core.create_namespaced_config_map(namespace, config_map("a"))
    core.create_namespaced_config_map(namespace, config_map("b"))
    seen = bw.wait_for(lambda evs: len(evs) >= 2, timeout=5, what="ADDED a and b")
    kube_server.drop_watches()
    assert bw.wait_ended(5), "POST /_testserver/drop-watches did not end the open watch within 5 s"
    assert bw.error is None, f"a dropped watch should just end, got {bw.error!r}"
    seen = list(bw.events)
    assert [(e.type, e.name) for e in seen] == [("ADDED", "a"), ("ADDED", "b")], seen

    core.create_namespaced_config_map(namespace, config_map("c"))
    core.patch_namespaced_config_map("a", namespace, {"data": {"k": "2"}})
    resumed = watch_events(core.list_namespaced_config_map, namespace, resource_version=str(seen[-1].rv), timeout_seconds=2)
    assert [(e.type, e.name) for e in resumed] == [("ADDED", "c"), ("MODIFIED", "a")], (
        f"resuming from the last seen resourceVersion {seen[-1].rv} must deliver every later change exactly once: {resumed}"
    )


@pytest.fixture
def fresh(fresh_kube_server):
    api = make_api_client(fresh_kube_server)
    core = client.CoreV1Api(api)
    yield SimpleNamespace(server=fresh_kube_server, core=core, namespace=create_namespace(core, "fresh"))
    api.close()


def test_compaction_expires_old_resource_versions_and_relist_recovers(fresh):
    core, ns = fresh.core, fresh.namespace
    a = core.create_namespaced_config_map(ns, config_map("a"))
    core.create_namespaced_config_map(ns, config_map("b"))
    fresh.server.compact()

    with pytest.raises(ApiException) as info:
        watch_events(core.list_namespaced_config_map, ns, resource_version=a.metadata.resource_version, timeout_seconds=3)
    assert info.value.status == 410, f"resuming from a compacted resourceVersion: {info.value}"
    assert str(info.value.reason).startswith("Expired"), f"ERROR event Status reason/message: {info.value.reason!r}"

    relisted = core.list_namespaced_config_map(ns)  # what an informer does after 410
    assert sorted(cm.metadata.name for cm in relisted.items) == ["a", "b"]
    core.create_namespaced_config_map(ns, config_map("c"))
    events = watch_events(core.list_namespaced_config_map, ns, resource_version=relisted.metadata.resource_version, timeout_seconds=2)
    assert [(e.type, e.name) for e in events] == [("ADDED", "c")], events

    initial = watch_events(core.list_namespaced_config_map, ns, timeout_seconds=3, until=lambda evs: len(evs) >= 3)
    assert sorted((e.type, e.name) for e in initial) == [("ADDED", "a"), ("ADDED", "b"), ("ADDED", "c")], initial


def test_restart_drops_watches_and_forgets_history(fresh, background_watches):
    core, ns = fresh.core, fresh.namespace
    bw = background_watches(core.list_namespaced_config_map, ns, resource_version=list_rv(core, ns), timeout_seconds=30)
    core.create_namespaced_config_map(ns, config_map("a"))
    core.create_namespaced_config_map(ns, config_map("b"))
    seen = bw.wait_for(lambda evs: len(evs) >= 2, timeout=5, what="ADDED a and b")
    fresh.server.restart()
    assert bw.wait_ended(5), "POST /_testserver/restart did not end the open watch within 5 s"

    with pytest.raises(ApiException) as info:
        watch_events(core.list_namespaced_config_map, ns, resource_version=str(seen[0].rv), timeout_seconds=3)
    assert info.value.status == 410, info.value

    # The newest resourceVersion is not older than the restart: resuming from it still works.
    core.create_namespaced_config_map(ns, config_map("c"))
    events = watch_events(core.list_namespaced_config_map, ns, resource_version=str(seen[1].rv), timeout_seconds=2)
    assert [(e.type, e.name) for e in events] == [("ADDED", "c")], events
