"""Fault injection through the admin API, seen through the SDK's own retry behaviour."""

import time

import pytest
from azure.core.exceptions import HttpResponseError


def test_throttled_reads_are_retried_after_retry_after(admin, reader_secrets, seed):
    vault = seed.vault
    name, value = seed.secrets.throttled
    reader_secrets.get_secret(name)  # authenticate before the throttle starts
    admin.reset_counters()
    started = time.monotonic()
    with admin.faults_changed(vault, throttle={"limit": 2, "windowSeconds": 1}):
        # Six quick reads rather than four: however the first reads fall across a 1-second window
        # boundary, some window still receives a third read, so at least one 429 must happen.
        for _ in range(6):
            assert reader_secrets.get_secret(name).value == value
    elapsed = time.monotonic() - started
    counters = admin.vault_counters(admin.counters(), vault)
    by_status = {str(k): int(v) for k, v in (counters.get("byStatus") or {}).items()}
    assert by_status.get("429", 0) >= 1, f"no 429 counted for {vault}: {counters} (reads took {elapsed:.2f} s)"
    assert by_status.get("200", 0) >= 6, counters


def test_outage_is_503(admin, reader_secrets, seed):
    name, value = seed.secrets.throttled
    reader_secrets.get_secret(name)
    with admin.faults_changed(seed.vault, outage=True):
        with pytest.raises(HttpResponseError) as info:
            reader_secrets.get_secret(name, retry_total=0)  # azure-core per-call option: no retries
    assert info.value.status_code == 503
    assert reader_secrets.get_secret(name).value == value


def test_error_rate_one_is_500(admin, reader_secrets, seed):
    name, value = seed.secrets.throttled
    reader_secrets.get_secret(name)
    with admin.faults_changed(seed.vault, errorRate=1):
        with pytest.raises(HttpResponseError) as info:
            reader_secrets.get_secret(name, retry_total=0)
    assert info.value.status_code == 500
    assert reader_secrets.get_secret(name).value == value


def test_latency_is_added(admin, reader_secrets, seed):
    name, value = seed.secrets.throttled
    reader_secrets.get_secret(name)
    with admin.faults_changed(seed.vault, latencyMs=400, jitterMs=0):
        started = time.monotonic()
        assert reader_secrets.get_secret(name).value == value
        elapsed = time.monotonic() - started
    assert elapsed >= 0.35, f"get_secret took {elapsed:.3f} s with latencyMs=400"
