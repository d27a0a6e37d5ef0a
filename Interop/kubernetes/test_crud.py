"""Create/get/list/update/delete through the typed client: status codes, Status objects,
resourceVersion semantics, selectors, paging, all-namespaces lists, namespace lifecycle and discovery."""

from __future__ import annotations

import datetime

import pytest
import yaml
from kubernetes import client, config

from conftest import (
    AKVSYNC,
    SECRETSYNC,
    SPC,
    akvsync_body,
    b64,
    config_map,
    create_namespace,
    delete_namespace_quietly,
    expect_api_error,
    gone,
    meta,
    raw_json,
    rv,
    secret,
    secretsync_body,
    spc_body,
    status_body,
    unb64,
    unique_name,
    wait_until,
    with_status,
)

# --------------------------------------------------------------------------------------------
# Ready line, kubeconfig, discovery
# --------------------------------------------------------------------------------------------


def test_kubeconfig_matches_the_ready_line(kube_server, api_client):
    doc = yaml.safe_load(kube_server.kubeconfig.read_text(encoding="utf-8"))
    assert len(doc.get("clusters") or []) == 1, f"expected one cluster in {kube_server.kubeconfig}: {doc}"
    assert doc["clusters"][0]["cluster"]["server"] == kube_server.url
    assert len(doc.get("users") or []) == 1, f"expected one user: {doc}"
    assert doc["users"][0]["user"].get("token") == "test-admin-token"
    _, active = config.list_kube_config_contexts(config_file=str(kube_server.kubeconfig))
    assert active is not None, "kubeconfig has no current-context"
    assert active["context"].get("namespace") == "default", f"current context: {active}"
    assert api_client.configuration.host == kube_server.url
    assert "Bearer test-admin-token" in api_client.configuration.api_key.values(), api_client.configuration.api_key


def test_version_endpoint(api_client):
    info = client.VersionApi(api_client).get_code()
    assert info.git_version.startswith("v"), info
    assert info.major and info.minor, info


def test_api_and_apis_group_discovery(api_client):
    versions = client.CoreApi(api_client).get_api_versions()
    assert versions.versions == ["v1"], versions
    groups = {g.name: g for g in client.ApisApi(api_client).get_api_versions().groups}
    expected = {
        "coordination.k8s.io": "v1",
        "events.k8s.io": "v1",
        "secrets-store.csi.x-k8s.io": "v1",
        "secret-sync.x-k8s.io": "v1alpha1",
    }
    for group, version in expected.items():
        assert group in groups, f"/apis lacks group {group}; has {sorted(groups)}"
        served = {v.version: v.group_version for v in groups[group].versions}
        assert served.get(version) == f"{group}/{version}", f"{group}: versions {served}"
        assert groups[group].preferred_version is not None, f"{group} has no preferredVersion"
    # DynamicClient decides "preferred" by comparing the preferredVersion dict with each versions[] dict.
    status, raw = raw_json(client.ApisApi(api_client).get_api_versions)
    assert status == 200
    for group in raw["groups"]:
        assert group["preferredVersion"] in group["versions"], f"preferredVersion of {group['name']} is not one of its versions: {group}"


EXPECTED_RESOURCES = {
    ("", "v1"): {
        "namespaces": ("Namespace", False),
        "secrets": ("Secret", True),
        "configmaps": ("ConfigMap", True),
        "serviceaccounts": ("ServiceAccount", True),
        "serviceaccounts/token": ("TokenRequest", True),
        "pods": ("Pod", True),
        "events": ("Event", True),
    },
    ("events.k8s.io", "v1"): {"events": ("Event", True)},
    ("coordination.k8s.io", "v1"): {"leases": ("Lease", True)},
    (SPC["group"], SPC["version"]): {
        "secretproviderclasses": ("SecretProviderClass", True),
        "secretproviderclasspodstatuses": ("SecretProviderClassPodStatus", True),
    },
    (SECRETSYNC["group"], SECRETSYNC["version"]): {
        "secretsyncs": ("SecretSync", True),
        "secretsyncs/status": ("SecretSync", True),
        "akvsyncs": ("AKVSync", True),
        "akvsyncs/status": ("AKVSync", True),
    },
}


@pytest.mark.parametrize("group_version", list(EXPECTED_RESOURCES), ids=lambda gv: "/".join(filter(None, gv)))
def test_resource_discovery(api_client, group_version):
    group, version = group_version
    if group == "":
        listing = client.CoreV1Api(api_client).get_api_resources()
    elif group == "events.k8s.io":
        listing = client.EventsV1Api(api_client).get_api_resources()
    elif group == "coordination.k8s.io":
        listing = client.CoordinationV1Api(api_client).get_api_resources()
    else:
        listing = client.CustomObjectsApi(api_client).get_api_resources(group, version)
    assert listing.group_version == "/".join(filter(None, group_version)), listing.group_version
    found = {r.name: r for r in listing.resources}
    for name, (kind, namespaced) in EXPECTED_RESOURCES[group_version].items():
        assert name in found, f"{listing.group_version} lacks {name}; has {sorted(found)}"
        assert found[name].kind == kind, f"{name}: kind {found[name].kind!r}, expected {kind!r}"
        assert found[name].namespaced is namespaced, f"{name}: namespaced {found[name].namespaced!r}"
        if "/" not in name:
            verbs = set(found[name].verbs)
            assert {"create", "get", "list", "watch", "update", "patch", "delete"} <= verbs, f"{name}: verbs {sorted(verbs)}"
    if group == SPC["group"]:
        assert "secretproviderclasspodstatuses/status" not in found, "secretproviderclasspodstatuses has no status subresource"
        assert "secretproviderclasses/status" not in found, "secretproviderclasses has no status subresource"


# --------------------------------------------------------------------------------------------
# Create / get
# --------------------------------------------------------------------------------------------


def test_default_namespaces_exist(core):
    for name in ("default", "kube-system"):
        ns = core.read_namespace(name)
        assert ns.metadata.name == name
        assert ns.metadata.uid, f"namespace {name} has no uid"
    listed = {n.metadata.name for n in core.list_namespace().items}
    assert {"default", "kube-system"} <= listed, listed


def test_create_then_get_secret(core, namespace):
    name = unique_name("secret")
    before = datetime.datetime.now(datetime.timezone.utc)
    created, status, _ = with_status(
        core.create_namespaced_secret_with_http_info, namespace, secret(name, {"user": "alice", "password": "pw"}, labels={"app": "x"})
    )
    assert status == 201, f"create answered {status}, expected 201 Created"
    m = created.metadata
    assert (m.name, m.namespace) == (name, namespace)
    assert m.uid, "metadata.uid missing"
    rv(created)
    assert m.creation_timestamp is not None, "metadata.creationTimestamp missing"
    assert abs((m.creation_timestamp - before).total_seconds()) < 300, f"creationTimestamp {m.creation_timestamp} far from now {before}"
    assert m.labels == {"app": "x"}
    assert created.type == "Opaque"
    assert {k: unb64(v) for k, v in created.data.items()} == {"user": "alice", "password": "pw"}

    got = core.read_namespaced_secret(name, namespace)
    assert got.metadata.uid == m.uid
    assert got.metadata.resource_version == m.resource_version, "a get right after create must return the created resourceVersion"
    assert got.data == created.data


def test_server_fills_kind_and_api_version(core, custom, namespace):
    # The typed client sends bodies without apiVersion/kind; the server must fill them in.
    name = unique_name("cm")
    core.create_namespaced_config_map(namespace, config_map(name))
    status, raw = raw_json(core.read_namespaced_config_map, name, namespace)
    assert status == 200
    assert (raw.get("apiVersion"), raw.get("kind")) == ("v1", "ConfigMap"), raw
    status, listed = raw_json(core.list_namespaced_config_map, namespace)
    assert (listed.get("apiVersion"), listed.get("kind")) == ("v1", "ConfigMapList"), {k: listed.get(k) for k in ("apiVersion", "kind")}
    assert isinstance(listed.get("items"), list)
    custom.create_namespaced_custom_object(**SPC, namespace=namespace, body=spc_body(name))
    got = custom.get_namespaced_custom_object(**SPC, namespace=namespace, name=name)
    assert (got["apiVersion"], got["kind"]) == ("secrets-store.csi.x-k8s.io/v1", "SecretProviderClass")


def test_resource_versions_increase_across_kinds(core, custom, coordination, namespace):
    created = [
        core.create_namespaced_secret(namespace, secret(unique_name("s"))),
        core.create_namespaced_config_map(namespace, config_map(unique_name("cm"))),
        core.create_namespaced_service_account(namespace, client.V1ServiceAccount(metadata=client.V1ObjectMeta(name=unique_name("sa")))),
        coordination.create_namespaced_lease(namespace, client.V1Lease(metadata=client.V1ObjectMeta(name=unique_name("lease")))),
        custom.create_namespaced_custom_object(**SPC, namespace=namespace, body=spc_body(unique_name("spc"))),
        custom.create_namespaced_custom_object(**SECRETSYNC, namespace=namespace, body=secretsync_body(unique_name("ss"))),
    ]
    versions = [rv(obj) for obj in created]
    assert versions == sorted(versions) and len(set(versions)) == len(versions), f"resourceVersions not strictly increasing: {versions}"
    uids = [meta(obj)["uid"] for obj in created]
    assert len(set(uids)) == len(uids), f"uids not unique: {uids}"
    first = created[0]
    first.data = {"password": b64("changed")}
    updated = core.replace_namespaced_secret(first.metadata.name, namespace, first)
    assert rv(updated) > max(versions), f"update got resourceVersion {rv(updated)}, not above {max(versions)}"


def test_create_duplicate_is_409_already_exists(core, custom, namespace):
    name = unique_name("dup")
    core.create_namespaced_secret(namespace, secret(name))
    ex = expect_api_error(core.create_namespaced_secret, namespace, secret(name), status=409, reason="AlreadyExists")
    details = status_body(ex).get("details") or {}
    assert details.get("name") == name, f"Status.details.name is {details.get('name')!r}, expected {name!r}"
    custom.create_namespaced_custom_object(**SPC, namespace=namespace, body=spc_body(name))
    expect_api_error(custom.create_namespaced_custom_object, **SPC, namespace=namespace, body=spc_body(name), status=409, reason="AlreadyExists")


def test_get_missing_is_404_not_found(core, custom, namespace):
    expect_api_error(core.read_namespaced_secret, "no-such-secret", namespace, status=404, reason="NotFound")
    expect_api_error(core.read_namespaced_config_map, "no-such-cm", namespace, status=404, reason="NotFound")
    expect_api_error(core.read_namespace, unique_name("no-such-ns"), status=404, reason="NotFound")
    expect_api_error(custom.get_namespaced_custom_object, **SPC, namespace=namespace, name="no-such-spc", status=404, reason="NotFound")
    expect_api_error(core.delete_namespaced_secret, "no-such-secret", namespace, status=404, reason="NotFound")


def test_create_in_missing_namespace_is_404(core, custom):
    missing = unique_name("missing-ns")
    expect_api_error(core.create_namespaced_secret, missing, secret("s"), status=404, reason="NotFound")
    expect_api_error(
        custom.create_namespaced_custom_object, **SECRETSYNC, namespace=missing, body=secretsync_body("ss"), status=404, reason="NotFound"
    )
    expect_api_error(core.read_namespace, missing, status=404, reason="NotFound")


# --------------------------------------------------------------------------------------------
# Update
# --------------------------------------------------------------------------------------------


def test_update_with_stale_resource_version_is_409_conflict(core, namespace):
    name = unique_name("cm")
    created = core.create_namespaced_config_map(namespace, config_map(name, {"k": "v1"}))
    first = core.read_namespaced_config_map(name, namespace)
    first.data = {"k": "v2"}
    updated = core.replace_namespaced_config_map(name, namespace, first)
    assert updated.data == {"k": "v2"}
    assert rv(updated) > rv(created)
    assert updated.metadata.uid == created.metadata.uid, "uid changed on update"
    assert updated.metadata.creation_timestamp == created.metadata.creation_timestamp, "creationTimestamp changed on update"

    first.data = {"k": "stale"}  # still carries the resourceVersion from before the update
    expect_api_error(core.replace_namespaced_config_map, name, namespace, first, status=409, reason="Conflict")
    current = core.read_namespaced_config_map(name, namespace)
    assert current.data == {"k": "v2"}, "a rejected update must not change the object"
    assert current.metadata.resource_version == updated.metadata.resource_version


def test_update_without_resource_version_is_unconditional(core, namespace):
    name = unique_name("cm")
    core.create_namespaced_config_map(namespace, config_map(name, {"k": "v1"}))
    core.patch_namespaced_config_map(name, namespace, {"data": {"k": "v2"}})  # someone else writes
    body = config_map(name, {"k": "mine"})
    assert body.metadata.resource_version is None
    replaced = core.replace_namespaced_config_map(name, namespace, body)
    assert replaced.data == {"k": "mine"}


def test_replace_custom_object_with_stale_resource_version_conflicts(custom, namespace):
    name = unique_name("spc")
    custom.create_namespaced_custom_object(**SPC, namespace=namespace, body=spc_body(name))
    obj = custom.get_namespaced_custom_object(**SPC, namespace=namespace, name=name)
    obj["spec"]["parameters"]["keyvaultName"] = "second-kv"
    replaced = custom.replace_namespaced_custom_object(**SPC, namespace=namespace, name=name, body=obj)
    assert replaced["spec"]["parameters"]["keyvaultName"] == "second-kv"
    assert rv(replaced) > rv(obj)
    obj["spec"]["parameters"]["keyvaultName"] = "stale-kv"
    expect_api_error(custom.replace_namespaced_custom_object, **SPC, namespace=namespace, name=name, body=obj, status=409, reason="Conflict")


# --------------------------------------------------------------------------------------------
# Selectors
# --------------------------------------------------------------------------------------------

LABELLED = {
    "a": {"app": "web", "tier": "front"},
    "b": {"app": "web", "tier": "back"},
    "c": {"app": "db", "tier": "back"},
    "d": {"app": "db"},
    "e": {},
}


@pytest.fixture(scope="module")
def labelled_namespace(core):
    ns = create_namespace(core, "labels")
    for name, labels in LABELLED.items():
        core.create_namespaced_config_map(ns, config_map(name, labels=labels or None))
    yield ns
    delete_namespace_quietly(core, ns)


@pytest.mark.parametrize(
    "selector, expected",
    [
        ("app=web", "ab"),
        ("app==web", "ab"),
        ("app!=web", "cde"),  # != also matches objects without the key
        ("tier in (front,back)", "abc"),
        ("tier in (front, back)", "abc"),
        ("tier notin (front)", "bcde"),  # notin also matches objects without the key
        ("tier", "abc"),
        ("!tier", "de"),
        ("app=db,tier", "c"),
        ("app in (web,db),!tier", "d"),
        ("app=nothing", ""),
    ],
)
def test_label_selector(core, labelled_namespace, selector, expected):
    listed = core.list_namespaced_config_map(labelled_namespace, label_selector=selector)
    got = sorted(cm.metadata.name for cm in listed.items)
    assert got == sorted(expected), f"labelSelector {selector!r} returned {got}, expected {sorted(expected)}"


def test_field_selectors(core, namespace):
    core.create_namespaced_secret(namespace, secret("s1"))
    core.create_namespaced_secret(namespace, secret("s2"))
    core.create_namespaced_secret(namespace, secret("s3", type_="example.com/custom"))

    def listed(selector):
        return sorted(s.metadata.name for s in core.list_namespaced_secret(namespace, field_selector=selector).items)

    assert listed("metadata.name=s2") == ["s2"]
    assert listed("metadata.name==s2") == ["s2"]
    assert listed("metadata.name!=s2") == ["s1", "s3"]
    assert listed(f"metadata.namespace={namespace}") == ["s1", "s2", "s3"]
    assert listed("metadata.namespace=elsewhere") == []
    assert listed("type=example.com/custom") == ["s3"]
    assert listed("type=Opaque") == ["s1", "s2"]
    assert listed("type=Opaque,metadata.name!=s1") == ["s2"]
    both = core.list_namespaced_secret(namespace, field_selector="type=Opaque", label_selector="missing")
    assert both.items == [], "labelSelector and fieldSelector must both apply"


def test_unknown_field_selector_is_400(core, namespace):
    expect_api_error(core.list_namespaced_secret, namespace, field_selector="spec.nothing=x", status=400, reason="BadRequest")


# --------------------------------------------------------------------------------------------
# Paging and lists
# --------------------------------------------------------------------------------------------


def test_paging_with_limit_and_continue(core, namespace):
    all_names = [f"cm-{i:02d}" for i in range(7)]
    for name in reversed(all_names):  # creation order differs from name order on purpose
        core.create_namespaced_config_map(namespace, config_map(name))

    pages = []
    first = core.list_namespaced_config_map(namespace, limit=3)
    pages.append(first)
    token = first.metadata._continue
    while token:
        assert len(pages) < 10, "paging does not terminate"
        pages.append(core.list_namespaced_config_map(namespace, limit=3, _continue=token))
        token = pages[-1].metadata._continue
    sizes = [len(p.items) for p in pages]
    assert sizes == [3, 3, 1], f"page sizes {sizes} for 7 objects with limit=3"
    seen = [cm.metadata.name for p in pages for cm in p.items]
    assert seen == all_names, f"paged names {seen}, expected every object once, in name order"
    list_versions = {p.metadata.resource_version for p in pages}
    assert list_versions == {first.metadata.resource_version}, f"every page must carry the first page's resourceVersion: {list_versions}"
    assert first.metadata.resource_version and first.metadata.resource_version.isdigit()

    whole = core.list_namespaced_config_map(namespace, limit=50)
    assert len(whole.items) == 7
    assert not whole.metadata._continue, f"no continue token expected when everything fits: {whole.metadata._continue!r}"


def test_paging_is_a_snapshot_of_the_first_page(core, namespace):
    for name in ("a", "b", "c", "d"):
        core.create_namespaced_config_map(namespace, config_map(name))
    first = core.list_namespaced_config_map(namespace, limit=2)
    assert [cm.metadata.name for cm in first.items] == ["a", "b"]
    core.create_namespaced_config_map(namespace, config_map("zz"))  # sorts after the cursor, created after the first page
    rest = core.list_namespaced_config_map(namespace, limit=10, _continue=first.metadata._continue)
    assert [cm.metadata.name for cm in rest.items] == ["c", "d"], (
        "continued pages are served at the first page's resourceVersion; an object created afterwards must not appear"
    )
    assert rest.metadata.resource_version == first.metadata.resource_version


def test_list_secrets_across_all_namespaces(core, make_namespace):
    ns1, ns2 = make_namespace("all-a"), make_namespace("all-b")
    label = unique_name("mark")
    core.create_namespaced_secret(ns1, secret("one", labels={"mark": label}))
    core.create_namespaced_secret(ns2, secret("two", labels={"mark": label}))
    core.create_namespaced_secret(ns1, secret("unmarked"))

    listed = core.list_secret_for_all_namespaces(label_selector=f"mark={label}")
    got = sorted((s.metadata.namespace, s.metadata.name) for s in listed.items)
    assert got == sorted([(ns1, "one"), (ns2, "two")]), got

    only_ns2 = core.list_secret_for_all_namespaces(field_selector=f"metadata.namespace={ns2}")
    assert {(s.metadata.namespace, s.metadata.name) for s in only_ns2.items} == {(ns2, "two")}

    page1 = core.list_secret_for_all_namespaces(label_selector=f"mark={label}", limit=1)
    assert len(page1.items) == 1 and page1.metadata._continue, "limit=1 over two matches must return a continue token"
    page2 = core.list_secret_for_all_namespaces(label_selector=f"mark={label}", limit=1, _continue=page1.metadata._continue)
    paged = sorted((s.metadata.namespace, s.metadata.name) for s in page1.items + page2.items)
    assert paged == got
    assert not page2.metadata._continue


def test_list_custom_objects_with_selectors(custom, namespace):
    for name, labels in (("x1", {"sel": "yes"}), ("x2", {"sel": "no"}), ("x3", None)):
        custom.create_namespaced_custom_object(**SPC, namespace=namespace, body=spc_body(name, labels=labels))
    listed = custom.list_namespaced_custom_object(**SPC, namespace=namespace, label_selector="sel=yes")
    assert [o["metadata"]["name"] for o in listed["items"]] == ["x1"]
    assert listed["kind"] == "SecretProviderClassList", listed.get("kind")
    by_name = custom.list_namespaced_custom_object(**SPC, namespace=namespace, field_selector="metadata.name=x3")
    assert [o["metadata"]["name"] for o in by_name["items"]] == ["x3"]
    everywhere = custom.list_cluster_custom_object(**SPC, label_selector="sel")
    assert sorted(o["metadata"]["name"] for o in everywhere["items"] if o["metadata"]["namespace"] == namespace) == ["x1", "x2"]


# --------------------------------------------------------------------------------------------
# Namespace lifecycle and other kinds
# --------------------------------------------------------------------------------------------


def test_namespace_lifecycle(core, custom, coordination, make_namespace):
    name = unique_name("life")
    created, status, _ = with_status(core.create_namespace_with_http_info, client.V1Namespace(metadata=client.V1ObjectMeta(name=name)))
    assert status == 201
    assert created.metadata.uid
    expect_api_error(core.create_namespace, client.V1Namespace(metadata=client.V1ObjectMeta(name=name)), status=409, reason="AlreadyExists")

    bystander = make_namespace("bystander")
    core.create_namespaced_secret(bystander, secret("kept"))

    core.create_namespaced_secret(name, secret("s"))
    core.create_namespaced_config_map(name, config_map("cm"))
    core.create_namespaced_service_account(name, client.V1ServiceAccount(metadata=client.V1ObjectMeta(name="sa")))
    coordination.create_namespaced_lease(name, client.V1Lease(metadata=client.V1ObjectMeta(name="lease")))
    custom.create_namespaced_custom_object(**SPC, namespace=name, body=spc_body("spc"))
    custom.create_namespaced_custom_object(**SECRETSYNC, namespace=name, body=secretsync_body("ss"))
    custom.create_namespaced_custom_object(**AKVSYNC, namespace=name, body=akvsync_body("akv"))

    _, status, _ = with_status(core.delete_namespace_with_http_info, name)
    assert status in (200, 202), f"namespace delete answered {status}"
    wait_until(lambda: gone(core.read_namespace, name), message=f"namespace {name} to disappear after delete")

    assert gone(core.read_namespaced_secret, "s", name)
    assert gone(core.read_namespaced_config_map, "cm", name)
    assert gone(core.read_namespaced_service_account, "sa", name)
    assert gone(coordination.read_namespaced_lease, "lease", name)
    assert gone(custom.get_namespaced_custom_object, **SPC, namespace=name, name="spc")
    assert gone(custom.get_namespaced_custom_object, **SECRETSYNC, namespace=name, name="ss")
    assert gone(custom.get_namespaced_custom_object, **AKVSYNC, namespace=name, name="akv")
    assert core.list_namespaced_secret(name).items == []
    assert [s for s in core.list_secret_for_all_namespaces().items if s.metadata.namespace == name] == []
    expect_api_error(core.create_namespaced_secret, name, secret("again"), status=404, reason="NotFound")
    assert core.read_namespaced_secret("kept", bystander).metadata.name == "kept", "deleting a namespace must not touch others"

    # The name can be used again afterwards.
    core.create_namespace(client.V1Namespace(metadata=client.V1ObjectMeta(name=name)))
    try:
        assert core.list_namespaced_secret(name).items == [], "a re-created namespace must start empty"
    finally:
        delete_namespace_quietly(core, name)


def test_other_core_kinds_round_trip(core, namespace):
    sa = core.create_namespaced_service_account(namespace, client.V1ServiceAccount(metadata=client.V1ObjectMeta(name="robot")))
    assert core.read_namespaced_service_account("robot", namespace).metadata.uid == sa.metadata.uid

    pod = client.V1Pod(
        metadata=client.V1ObjectMeta(name="web", labels={"app": "web"}),
        spec=client.V1PodSpec(service_account_name="robot", containers=[client.V1Container(name="app", image="busybox:1.36")]),
    )
    created = core.create_namespaced_pod(namespace, pod)
    got = core.read_namespaced_pod("web", namespace)
    assert got.metadata.uid == created.metadata.uid
    assert [c.image for c in got.spec.containers] == ["busybox:1.36"]
    assert got.spec.service_account_name == "robot"

    event = client.CoreV1Event(
        metadata=client.V1ObjectMeta(name="web.1"),
        involved_object=client.V1ObjectReference(kind="Pod", name="web", namespace=namespace, uid=created.metadata.uid, api_version="v1"),
        reason="Synced",
        message="hello",
        type="Normal",
        source=client.V1EventSource(component="akvs"),
        count=1,
    )
    core.create_namespaced_event(namespace, event)
    listed = core.list_namespaced_event(namespace, field_selector="metadata.name=web.1").items
    assert [(e.reason, e.message, e.involved_object.name) for e in listed] == [("Synced", "hello", "web")]


def test_events_v1_and_leases(events_v1, coordination, namespace):
    now = datetime.datetime.now(datetime.timezone.utc).replace(microsecond=123456)
    event = client.EventsV1Event(
        metadata=client.V1ObjectMeta(name="sync.1"),
        event_time=now,
        reporting_controller="akvs.io/controller",
        reporting_instance="akvs-0",
        action="Sync",
        reason="SecretSynced",
        type="Normal",
        note="synced",
        regarding=client.V1ObjectReference(kind="SecretSync", name="ss", namespace=namespace, api_version="secret-sync.x-k8s.io/v1alpha1"),
    )
    created = events_v1.create_namespaced_event(namespace, event)
    got = events_v1.read_namespaced_event("sync.1", namespace)
    assert got.metadata.uid == created.metadata.uid
    assert (got.reason, got.note, got.regarding.kind) == ("SecretSynced", "synced", "SecretSync")
    assert got.event_time == now, f"eventTime (MicroTime) round trip: sent {now.isoformat()}, got {got.event_time}"

    lease = client.V1Lease(
        metadata=client.V1ObjectMeta(name="akvs-leader"),
        spec=client.V1LeaseSpec(holder_identity="pod-a", lease_duration_seconds=15, acquire_time=now, renew_time=now, lease_transitions=0),
    )
    coordination.create_namespaced_lease(namespace, lease)
    current = coordination.read_namespaced_lease("akvs-leader", namespace)
    assert current.spec.holder_identity == "pod-a"
    assert current.spec.renew_time == now, f"renewTime (MicroTime) round trip: sent {now.isoformat()}, got {current.spec.renew_time}"
    current.spec.holder_identity = "pod-b"
    current.spec.lease_transitions = 1
    taken = coordination.replace_namespaced_lease("akvs-leader", namespace, current)
    assert (taken.spec.holder_identity, taken.spec.lease_transitions) == ("pod-b", 1)
    current.spec.holder_identity = "pod-c"  # stale resourceVersion: the leader-election race must lose
    expect_api_error(coordination.replace_namespaced_lease, "akvs-leader", namespace, current, status=409, reason="Conflict")
