"""Authentication and injected faults (POST/DELETE /_testserver/faults), as the client sees them.

Note the client's transport: urllib3's default Retry (3 retries) transparently retries GET, PUT
and DELETE answered 429/503 with a Retry-After header, sleeping Retry-After; POST and PATCH are
never retried. Every retry counts as one request against a throttle.
"""

from __future__ import annotations

import time

import pytest
from kubernetes import client

from conftest import config_map, expect_api_error, make_unauthenticated_client, status_body, unique_name


@pytest.fixture
def faults(kube_server):
    """The server's fault injection; everything is cleared after the test.

    Request it after `namespace` so that faults are cleared before the namespace is deleted."""
    kube_server.clear_faults()
    yield kube_server
    kube_server.clear_faults()


def test_requests_without_or_with_a_wrong_token_are_401(kube_server, core):
    for token in (None, "not-the-admin-token"):
        api = make_unauthenticated_client(kube_server, token=token)
        try:
            expect_api_error(client.CoreV1Api(api).read_namespace, "default", status=401, reason="Unauthorized")
            expect_api_error(client.CoreV1Api(api).list_namespaced_secret, "default", status=401, reason="Unauthorized")
            expect_api_error(client.ApisApi(api).get_api_versions, status=401, reason="Unauthorized")
        finally:
            api.close()
    assert core.read_namespace("default").metadata.name == "default", "the kubeconfig token must still work"


def test_admin_endpoints_require_the_admin_token(kube_server):
    status, _, body = kube_server.raw_request("POST", "/_testserver/faults", {"errorRate": 1.0}, token=None)
    assert status == 401, f"unauthenticated POST /_testserver/faults answered {status}: {body[:300]!r}"
    status, _, _ = kube_server.raw_request("DELETE", "/_testserver/faults", token="wrong")
    assert status == 401


def test_throttle_answers_429_with_retry_after(namespace, faults, core):
    faults.set_faults(throttle={"count": 1, "retryAfterSeconds": 2})
    ex = expect_api_error(  # POST: urllib3 never retries it, so the 429 reaches the caller
        core.create_namespaced_config_map, namespace, config_map(unique_name("cm")), status=429, reason="TooManyRequests"
    )
    retry_after = (ex.headers or {}).get("Retry-After")
    assert retry_after == "2", f"Retry-After header {retry_after!r}, expected '2'; headers {dict(ex.headers or {})}"
    body = status_body(ex)
    assert (body.get("details") or {}).get("retryAfterSeconds") in (None, 2), body
    created = core.create_namespaced_config_map(namespace, config_map(unique_name("cm")))
    assert created.metadata.uid, "the throttle covers exactly `count` requests"


def test_throttled_reads_are_retried_by_the_client_after_retry_after(namespace, faults, core):
    name = unique_name("cm")
    core.create_namespaced_config_map(namespace, config_map(name))
    faults.set_faults(throttle={"count": 2, "retryAfterSeconds": 1})
    started = time.monotonic()
    got = core.read_namespaced_config_map(name, namespace)  # 429, 429, then 200: urllib3 honours Retry-After
    elapsed = time.monotonic() - started
    assert got.metadata.name == name
    assert elapsed >= 1.8, f"two 429s with Retry-After: 1 should cost the client ~2 s of waiting, took {elapsed:.2f} s"
    assert elapsed < 10, f"read took {elapsed:.2f} s"


def test_error_rate_one_is_500_until_cleared(faults, core):
    faults.set_faults(errorRate=1.0)
    ex = expect_api_error(core.read_namespace, "default", status=500, reason="InternalError")
    expect_api_error(core.list_namespaced_config_map, "default", status=500)
    expect_api_error(core.create_namespaced_config_map, "default", config_map(unique_name("cm")), status=500)
    assert status_body(ex).get("code") == 500
    faults.clear_faults()
    assert core.read_namespace("default").metadata.name == "default"


def test_latency_is_added(faults, core):
    core.read_namespace("default")
    faults.set_faults(latencyMs=400)
    started = time.monotonic()
    core.read_namespace("default")
    elapsed = time.monotonic() - started
    assert elapsed >= 0.35, f"read with latencyMs=400 took {elapsed:.3f} s"
    faults.clear_faults()
    started = time.monotonic()
    core.read_namespace("default")
    assert time.monotonic() - started < 0.35 + 1, "latency should be gone after DELETE /_testserver/faults"
