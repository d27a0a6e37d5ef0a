"""Fixtures for the Kubernetes interop suite.

The suite runs the official `kubernetes` Python client (PyPI), unchanged, against the in-memory
kube test server (`akvs-kube-test-server`) and checks that the server behaves like kube-apiserver
as far as this project relies on it. Only documented client APIs are used: the generated typed
APIs (CoreV1Api, CustomObjectsApi, ...), `kubernetes.watch.Watch` and
`kubernetes.dynamic.DynamicClient`.

Server binary: env `KUBE_TEST_SERVER_BIN`, default `<repo>/.build/debug/akvs-kube-test-server`.
It is started as `<bin> --state-dir <tmp> --bookmark-interval-seconds 1`, prints
`akvs kube-test-server ready http://127.0.0.1:<port> kubeconfig=<state-dir>/kubeconfig` and runs
until SIGTERM. One server runs per test module (`kube_server`); tests that need a pristine server
(compaction, restart) use `fresh_kube_server`. Nothing starts at collection time.

Client configuration never touches global state: every ApiClient gets its own
`kubernetes.client.Configuration` filled by `load_kube_config(config_file=..., client_configuration=...)`.

Run: `python3 -m pytest -q Interop/kubernetes` (after `swift build`). The file names overlap with
Interop/python (test_faults.py, conftest.py): run the two suites in separate pytest invocations.
"""

from __future__ import annotations

import functools
import json
import os
import queue
import re
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
import uuid
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Dict, Iterable, List, Optional, Tuple

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "common"))
from processes import pump_stdout  # noqa: E402
from kubernetes import client, config, dynamic, watch
from kubernetes.client.exceptions import ApiException

HERE = Path(__file__).resolve().parent
REPO_ROOT = HERE.parents[1]
DEFAULT_BINARY = REPO_ROOT / ".build" / "debug" / "akvs-kube-test-server"
READY_RE = re.compile(r"^akvs kube-test-server ready (?P<url>https?://127\.0\.0\.1:\d+) kubeconfig=(?P<kubeconfig>\S.*)$")
READY_TIMEOUT_SECONDS = 60.0
ADMIN_TOKEN = "test-admin-token"
BOOKMARK_INTERVAL_SECONDS = 1

# CRD coordinates (deploy/crds/).
SPC = dict(group="secrets-store.csi.x-k8s.io", version="v1", plural="secretproviderclasses")
SPCPS = dict(group="secrets-store.csi.x-k8s.io", version="v1", plural="secretproviderclasspodstatuses")
SECRETSYNC = dict(group="secret-sync.x-k8s.io", version="v1alpha1", plural="secretsyncs")
AKVSYNC = dict(group="secret-sync.x-k8s.io", version="v1alpha1", plural="akvsyncs")


# --------------------------------------------------------------------------------------------
# The server process
# --------------------------------------------------------------------------------------------


@dataclass
class KubeTestServer:
    process: subprocess.Popen
    binary: Path
    state_dir: Path
    stderr_path: Path
    args: List[str]
    url: str = ""
    kubeconfig: Path = Path()
    ready_line: str = ""
    stdout_lines: List[str] = field(default_factory=list)

    # -- logs ---------------------------------------------------------------------------------

    def stderr_text(self, start: int = 0, limit: Optional[int] = None) -> str:
        try:
            with open(self.stderr_path, "rb") as f:
                f.seek(start)
                data = f.read()
        except OSError as ex:
            return f"<cannot read {self.stderr_path}: {ex}>"
        text = data.decode("utf-8", "replace")
        if limit is not None and len(text) > limit:
            text = f"… ({len(text) - limit} earlier characters omitted)\n" + text[-limit:]
        return text

    def stderr_size(self) -> int:
        try:
            return self.stderr_path.stat().st_size
        except OSError:
            return 0

    # -- lifecycle ----------------------------------------------------------------------------

    def stop(self) -> Optional[int]:
        """SIGTERM, then SIGKILL after 10 s. Returns the exit status."""
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                warnings.warn(f"kube test server (pid {self.process.pid}) ignored SIGTERM for 10 s; killing it")
                self.process.kill()
                self.process.wait(timeout=10)
        return self.process.returncode

    # -- raw HTTP (admin endpoints, public OIDC endpoints, unauthenticated probes) ------------

    def raw_request(
        self,
        method: str,
        path: str,
        body: Any = None,
        token: Optional[str] = ADMIN_TOKEN,
        headers: Optional[Dict[str, str]] = None,
        timeout: float = 30,
    ) -> Tuple[int, Dict[str, str], bytes]:
        """One HTTP request straight to the server (no proxies). Returns (status, headers, body)."""
        data = None
        all_headers = {"Accept": "application/json"}
        if body is not None:
            data = json.dumps(body).encode("utf-8")
            all_headers["Content-Type"] = "application/json"
        if token is not None:
            all_headers["Authorization"] = f"Bearer {token}"
        all_headers.update(headers or {})
        request = urllib.request.Request(self.url + path, data=data, method=method, headers=all_headers)
        handlers = [urllib.request.ProxyHandler({})]
        if self.url.startswith("https://"):
            import ssl

            handlers.append(urllib.request.HTTPSHandler(context=ssl.create_default_context(cafile=str(self.state_dir / "pki" / "root-ca.pem"))))
        opener = urllib.request.build_opener(*handlers)
        try:
            with opener.open(request, timeout=timeout) as response:
                return response.status, dict(response.headers.items()), response.read()
        except urllib.error.HTTPError as ex:
            return ex.code, dict(ex.headers.items()), ex.read()

    def admin(self, method: str, path: str, body: Any = None) -> Any:
        status, _, payload = self.raw_request(method, path, body)
        assert 200 <= status < 300, (
            f"admin endpoint {method} {path} answered {status}\n"
            f"request body: {json.dumps(body) if body is not None else '<none>'}\n"
            f"response: {payload[:4000].decode('utf-8', 'replace')}"
        )
        if not payload:
            return None
        try:
            return json.loads(payload)
        except ValueError:
            return payload.decode("utf-8", "replace")

    def set_faults(self, **faults: Any) -> Any:
        return self.admin("POST", "/_testserver/faults", faults)

    def clear_faults(self) -> Any:
        return self.admin("DELETE", "/_testserver/faults")

    def drop_watches(self) -> Any:
        return self.admin("POST", "/_testserver/drop-watches")

    def compact(self) -> Any:
        return self.admin("POST", "/_testserver/compact")

    def restart(self) -> Any:
        return self.admin("POST", "/_testserver/restart")


_ACTIVE: List[KubeTestServer] = []
_STDERR_OFFSETS = pytest.StashKey[Dict[int, int]]()


def _resolve_binary() -> Path:
    configured = os.environ.get("KUBE_TEST_SERVER_BIN")
    binary = Path(configured).expanduser() if configured else DEFAULT_BINARY
    if not binary.is_absolute():
        binary = (REPO_ROOT / binary).resolve()
    if not binary.is_file() or not os.access(binary, os.X_OK):
        source = "KUBE_TEST_SERVER_BIN" if configured else "the default path"
        pytest.fail(
            f"kube test server binary not found or not executable at {binary} ({source}). "
            f"Run `swift build` in {REPO_ROOT} first, or set KUBE_TEST_SERVER_BIN.",
            pytrace=False,
        )
    return binary


def start_kube_test_server(tmp_path_factory: pytest.TempPathFactory, name: str = "kube",
                           bookmark_interval_seconds: float = BOOKMARK_INTERVAL_SECONDS, tls: bool = False) -> KubeTestServer:
    """`tls`: HTTPS like kube-apiserver (the CA is in the kubeconfig), for clients such as kubectl that send no token over HTTP."""
    binary = _resolve_binary()
    state_dir = tmp_path_factory.mktemp(f"{name}-state")
    stderr_path = state_dir.parent / f"{state_dir.name}-stderr.log"
    args = [
        str(binary),
        "--state-dir",
        str(state_dir),
        "--bookmark-interval-seconds",
        str(bookmark_interval_seconds),
    ] + (["--tls"] if tls else [])
    with open(stderr_path, "wb") as stderr_file:
        process = subprocess.Popen(
            args,
            cwd=REPO_ROOT,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=stderr_file,
            text=True,
            encoding="utf-8",
            errors="replace",
            bufsize=1,
        )
    server = KubeTestServer(process=process, binary=binary, state_dir=state_dir, stderr_path=stderr_path, args=args)
    lines: "queue.Queue[Optional[str]]" = queue.Queue()
    threading.Thread(
        target=pump_stdout, args=(process.stdout, lines, server.stdout_lines), name="kube-test-server-stdout", daemon=True
    ).start()

    def fail(reason: str) -> None:
        server.stop()
        stdout = "".join(server.stdout_lines) or "<empty>"
        pytest.fail(
            f"{reason}\ncommand: {' '.join(args)} (cwd {REPO_ROOT})\n"
            f"--- server stdout ---\n{stdout}\n"
            f"--- server stderr ---\n{server.stderr_text(limit=20000) or '<empty>'}",
            pytrace=False,
        )

    deadline = time.monotonic() + READY_TIMEOUT_SECONDS
    while True:
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            fail(f"kube test server did not print its ready line within {READY_TIMEOUT_SECONDS:.0f} s")
        try:
            line = lines.get(timeout=min(remaining, 0.5))
        except queue.Empty:
            if process.poll() is not None and lines.empty():
                fail(f"kube test server exited with status {process.returncode} before it was ready")
            continue
        if line is None:
            process.wait(timeout=10)
            fail(f"kube test server closed stdout (exit status {process.returncode}) before it was ready")
        match = READY_RE.match(line.strip())
        if match:
            server.ready_line = line.strip()
            server.url = match.group("url")
            server.kubeconfig = Path(match.group("kubeconfig"))
            break
        if line.startswith("akvs kube-test-server ready"):
            fail(f"malformed ready line {line.strip()!r}; expected {READY_RE.pattern}")

    if not server.kubeconfig.is_file():
        fail(f"the ready line names kubeconfig {server.kubeconfig}, which does not exist")
    if server.kubeconfig.resolve() != (state_dir / "kubeconfig").resolve():
        fail(f"kubeconfig should be <state-dir>/kubeconfig ({state_dir / 'kubeconfig'}), the ready line says {server.kubeconfig}")
    return server



def _running_server(server: KubeTestServer):
    _ACTIVE.append(server)
    try:
        yield server
    finally:
        _ACTIVE.remove(server)
        status = server.stop()
        if status not in (0, -signal.SIGTERM, None):
            warnings.warn(
                f"kube test server exited with status {status} after SIGTERM (expected 0); "
                f"stderr tail:\n{server.stderr_text(limit=4000)}"
            )


@pytest.fixture(scope="module")
def kube_server(tmp_path_factory: pytest.TempPathFactory):
    """One running server for the whole test module."""
    yield from _running_server(start_kube_test_server(tmp_path_factory, "kube"))


@pytest.fixture
def fresh_kube_server(tmp_path_factory: pytest.TempPathFactory):
    """A pristine server for this test only (for compaction/restart, which change global state)."""
    yield from _running_server(start_kube_test_server(tmp_path_factory, "kube-fresh"))


@pytest.hookimpl(tryfirst=True)
def pytest_runtest_setup(item: pytest.Item) -> None:
    item.stash[_STDERR_OFFSETS] = {id(s): s.stderr_size() for s in _ACTIVE}


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo):
    outcome = yield
    report = outcome.get_result()
    if not report.failed:
        return
    offsets = item.stash.get(_STDERR_OFFSETS, {})
    for server in list(_ACTIVE):
        text = server.stderr_text(start=offsets.get(id(server), 0), limit=20000)
        status = "running" if server.process.poll() is None else f"exited with status {server.process.returncode}"
        report.sections.append(
            (f"kube test server {server.url} stderr during this test ({status}; full log {server.stderr_path})", text or "<empty>")
        )


# --------------------------------------------------------------------------------------------
# Clients
# --------------------------------------------------------------------------------------------


def make_configuration(server: KubeTestServer) -> client.Configuration:
    """A fresh Configuration loaded from the server's kubeconfig (no global defaults touched)."""
    cfg = client.Configuration()
    config.load_kube_config(config_file=str(server.kubeconfig), client_configuration=cfg, persist_config=False)
    # Loopback traffic must never go through a proxy taken from the environment.
    cfg.proxy = None
    return cfg


def make_api_client(server: KubeTestServer) -> client.ApiClient:
    return client.ApiClient(make_configuration(server))


def make_unauthenticated_client(server: KubeTestServer, token: Optional[str] = None) -> client.ApiClient:
    """An ApiClient for the server URL with no credentials (or with the given bearer token)."""
    cfg = client.Configuration()
    cfg.host = server.url
    cfg.proxy = None
    if token is not None:
        cfg.api_key = {"BearerToken": token}
        cfg.api_key_prefix = {"BearerToken": "Bearer"}
    return client.ApiClient(cfg)


_DISCOVERY_CACHES = iter(range(1, 1 << 30))


def make_dynamic_client(server: KubeTestServer, api_client: client.ApiClient) -> dynamic.DynamicClient:
    # DynamicClient caches discovery in $TMPDIR/osrcp-<md5(host)>.json by default; ports are reused
    # between runs, so always give it a private cache file next to the server's state.
    cache = server.state_dir.parent / f"{server.state_dir.name}-discovery-{next(_DISCOVERY_CACHES)}.json"
    return dynamic.DynamicClient(api_client, cache_file=str(cache))


@pytest.fixture(scope="module")
def api_client(kube_server: KubeTestServer):
    api = make_api_client(kube_server)
    yield api
    api.close()


@pytest.fixture(scope="module")
def core(api_client) -> client.CoreV1Api:
    return client.CoreV1Api(api_client)


@pytest.fixture(scope="module")
def custom(api_client) -> client.CustomObjectsApi:
    return client.CustomObjectsApi(api_client)


@pytest.fixture(scope="module")
def coordination(api_client) -> client.CoordinationV1Api:
    return client.CoordinationV1Api(api_client)


@pytest.fixture(scope="module")
def events_v1(api_client) -> client.EventsV1Api:
    return client.EventsV1Api(api_client)


@pytest.fixture(scope="module")
def dyn(kube_server, api_client) -> dynamic.DynamicClient:
    return make_dynamic_client(kube_server, api_client)


# --------------------------------------------------------------------------------------------
# Names and namespaces
# --------------------------------------------------------------------------------------------


def unique_name(prefix: str = "obj") -> str:
    """A DNS-1123 label that is unique for this run."""
    slug = re.sub(r"[^a-z0-9-]+", "-", prefix.lower()).strip("-")[:40] or "obj"
    return f"{slug}-{uuid.uuid4().hex[:8]}"


def create_namespace(core_api: client.CoreV1Api, prefix: str = "t") -> str:
    name = unique_name(prefix)
    core_api.create_namespace(client.V1Namespace(metadata=client.V1ObjectMeta(name=name)))
    return name


def delete_namespace_quietly(core_api: client.CoreV1Api, name: str) -> None:
    try:
        core_api.delete_namespace(name)
    except ApiException as ex:
        if ex.status != 404:
            raise


@pytest.fixture
def namespace(core, request) -> str:
    """A new namespace for this test, deleted afterwards."""
    name = create_namespace(core, f"t-{request.node.name}"[:30])
    yield name
    delete_namespace_quietly(core, name)


@pytest.fixture
def make_namespace(core):
    """Factory for extra namespaces, all deleted afterwards."""
    created: List[str] = []

    def make(prefix: str = "t") -> str:
        created.append(create_namespace(core, prefix))
        return created[-1]

    yield make
    for name in created:
        delete_namespace_quietly(core, name)


# --------------------------------------------------------------------------------------------
# Errors
# --------------------------------------------------------------------------------------------


def status_body(ex: ApiException) -> Dict[str, Any]:
    """The Status object of an error response ({} when the body is not JSON)."""
    body = getattr(ex, "body", None)
    if not body:
        return {}
    try:
        parsed = json.loads(body)
    except (TypeError, ValueError):
        return {}
    return parsed if isinstance(parsed, dict) else {}


def expect_api_error(fn: Callable[..., Any], *args: Any, status: int, reason: Optional[str] = None, **kwargs: Any) -> ApiException:
    """Call fn and check it fails with `status` and, if given, a Status object with `reason`."""
    try:
        result = fn(*args, **kwargs)
    except ApiException as ex:
        body = status_body(ex)
        assert ex.status == status, (
            f"{getattr(fn, '__name__', fn)} failed with HTTP {ex.status}, expected {status}; body: {ex.body!r}"
        )
        if reason is not None:
            assert body.get("kind") == "Status", f"error body is not a Status object: {ex.body!r}"
            assert body.get("reason") == reason, f"Status.reason is {body.get('reason')!r}, expected {reason!r}; body: {ex.body!r}"
            assert body.get("code") == status, f"Status.code is {body.get('code')!r}, expected {status}; body: {ex.body!r}"
            assert body.get("status") == "Failure", f"Status.status is {body.get('status')!r}, expected 'Failure'"
        return ex
    raise AssertionError(f"{getattr(fn, '__name__', fn)} succeeded (returned {result!r:.300}), expected HTTP {status} {reason or ''}")


def with_status(fn: Callable[..., Any], *args: Any, **kwargs: Any) -> Tuple[Any, int, Any]:
    """Call a `*_with_http_info` method: (data, HTTP status, headers) on every client version."""
    result = fn(*args, **kwargs)
    if isinstance(result, tuple):
        return result[0], result[1], result[2]
    return result.data, result.status_code, result.headers  # ApiResponse


def raw_json(fn: Callable[..., Any], *args: Any, **kwargs: Any) -> Tuple[int, Any]:
    """Call a typed API method without model deserialisation: (HTTP status, parsed JSON body)."""
    response = fn(*args, _preload_content=False, **kwargs)
    try:
        data = response.data
        return response.status, json.loads(data) if data else None
    finally:
        response.release_conn()


def rv(obj: Any) -> int:
    """metadata.resourceVersion of a model object or a dict, as an int (asserting it is one)."""
    value = obj["metadata"]["resourceVersion"] if isinstance(obj, dict) else obj.metadata.resource_version
    assert isinstance(value, str) and value.isdigit(), f"resourceVersion {value!r} is not a decimal string"
    return int(value)


_SERIALIZER: Optional[client.ApiClient] = None


def to_json(obj: Any) -> Any:
    """A model object as the JSON the client would send (camelCase keys); dicts pass through."""
    global _SERIALIZER
    if _SERIALIZER is None:
        _SERIALIZER = client.ApiClient(client.Configuration())
    return _SERIALIZER.sanitize_for_serialization(obj)


def meta(obj: Any) -> Dict[str, Any]:
    """metadata of a model object or dict, as a camelCase dict."""
    if isinstance(obj, dict):
        return obj.get("metadata") or {}
    return to_json(obj.metadata) or {}


def wait_until(predicate: Callable[[], Any], timeout: float = 10.0, interval: float = 0.05, message: str = "") -> Any:
    """Poll until predicate() is truthy; return its value or fail with `message`."""
    deadline = time.monotonic() + timeout
    last: Any = None
    while True:
        last = predicate()
        if last:
            return last
        if time.monotonic() >= deadline:
            raise AssertionError(f"timed out after {timeout:.1f} s: {message or predicate}; last value {last!r}")
        time.sleep(interval)


def gone(read: Callable[..., Any], *args: Any, **kwargs: Any) -> bool:
    """True when read(...) answers 404."""
    try:
        read(*args, **kwargs)
    except ApiException as ex:
        if ex.status == 404:
            return True
        raise
    return False


# --------------------------------------------------------------------------------------------
# Watches
# --------------------------------------------------------------------------------------------


@dataclass
class Event:
    type: str
    raw: Dict[str, Any]

    @property
    def name(self) -> Optional[str]:
        return (self.raw.get("metadata") or {}).get("name")

    @property
    def namespace(self) -> Optional[str]:
        return (self.raw.get("metadata") or {}).get("namespace")

    @property
    def rv(self) -> int:
        return rv(self.raw)

    def __repr__(self) -> str:
        m = self.raw.get("metadata") or {}
        return f"{self.type}({m.get('namespace', '')}/{m.get('name', '')}@{m.get('resourceVersion')})"


def _to_event(ev: Any) -> Optional[Event]:
    if ev is None:  # kubernetes>=35 yields None for a blank line in the stream
        return None
    raw = ev.get("raw_object")
    if raw is None:
        raw = ev.get("object")
    return Event(type=ev["type"], raw=raw)


def watch_events(
    list_fn: Callable[..., Any],
    *args: Any,
    timeout_seconds: int = 3,
    until: Optional[Callable[[List[Event]], bool]] = None,
    **kwargs: Any,
) -> List[Event]:
    """Run `Watch().stream(list_fn, *args, timeout_seconds=..., **kwargs)` and collect its events.

    The stream ends when the server closes it (timeout_seconds), or as soon as `until(events)`
    holds. ApiException (e.g. 410 from an ERROR event) propagates. A client-side hard deadline
    keeps a misbehaving server from hanging the suite.
    """
    w = watch.Watch()
    stream = w.stream(list_fn, *args, timeout_seconds=timeout_seconds, _request_timeout=(10, timeout_seconds + 10), **kwargs)
    events: List[Event] = []
    deadline = time.monotonic() + timeout_seconds + 15
    try:
        for item in stream:
            event = _to_event(item)
            if event is not None:
                events.append(event)
                if until is not None and until(events):
                    break
            if time.monotonic() > deadline:
                raise AssertionError(
                    f"watch with timeoutSeconds={timeout_seconds} still open after {timeout_seconds + 15} s; events so far {events}"
                )
    finally:
        w.stop()
        stream.close()
    return events


class BackgroundWatch:
    """A Watch().stream running in a thread, collecting events while the test makes changes."""

    def __init__(self, list_fn: Callable[..., Any], *args: Any, timeout_seconds: int = 30, **kwargs: Any) -> None:
        self.events: List[Event] = []
        self.error: Optional[BaseException] = None
        self.ended = threading.Event()
        self.ended_at: Optional[float] = None
        self._cond = threading.Condition()
        self._responses: List[Any] = []
        self._watch = watch.Watch()

        @functools.wraps(list_fn)  # keeps the signature/docstring Watch uses to find the model type
        def call(*a: Any, **kw: Any) -> Any:
            response = list_fn(*a, **kw)
            self._responses.append(response)
            return response

        self._stream = self._watch.stream(
            call, *args, timeout_seconds=timeout_seconds, _request_timeout=(10, timeout_seconds + 10), **kwargs
        )
        self._thread = threading.Thread(target=self._run, name="background-watch", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        try:
            for item in self._stream:
                event = _to_event(item)
                if event is None:
                    continue
                with self._cond:
                    self.events.append(event)
                    self._cond.notify_all()
        except BaseException as ex:  # noqa: BLE001 - reported to the test thread
            self.error = ex
        finally:
            self.ended_at = time.monotonic()
            self.ended.set()
            with self._cond:
                self._cond.notify_all()

    def wait_for(self, predicate: Callable[[List[Event]], bool], timeout: float = 10.0, what: str = "") -> List[Event]:
        deadline = time.monotonic() + timeout
        with self._cond:
            while not predicate(self.events):
                remaining = deadline - time.monotonic()
                if remaining <= 0 or self.ended.is_set():
                    state = f"stream ended (error {self.error!r})" if self.ended.is_set() else "stream still open"
                    raise AssertionError(f"watch did not deliver {what or predicate} within {timeout} s; {state}; events {self.events}")
                self._cond.wait(remaining)
            return list(self.events)

    def wait_ended(self, timeout: float) -> bool:
        return self.ended.wait(timeout)

    def stop(self) -> None:
        self._watch.stop()
        # Older clients' Watch.stop() only sets a flag; shut the socket down so a blocked read ends now.
        for response in self._responses:
            sock = getattr(getattr(response, "connection", None), "sock", None)
            if sock is not None:
                try:
                    sock.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass
        self.ended.wait(15)


@pytest.fixture
def background_watches():
    """Factory for BackgroundWatch objects that are stopped at the end of the test."""
    started: List[BackgroundWatch] = []

    def start(list_fn: Callable[..., Any], *args: Any, **kwargs: Any) -> BackgroundWatch:
        started.append(BackgroundWatch(list_fn, *args, **kwargs))
        return started[-1]

    yield start
    for bw in started:
        bw.stop()


def names(events: Iterable[Event], type_: Optional[str] = None) -> List[Optional[str]]:
    return [e.name for e in events if type_ is None or e.type == type_]


# --------------------------------------------------------------------------------------------
# Object builders
# --------------------------------------------------------------------------------------------


def b64(text: str) -> str:
    import base64

    return base64.b64encode(text.encode("utf-8")).decode("ascii")


def unb64(text: str) -> str:
    import base64

    return base64.b64decode(text).decode("utf-8")


def config_map(name: str, data: Optional[Dict[str, str]] = None, labels: Optional[Dict[str, str]] = None, **meta_kwargs: Any) -> client.V1ConfigMap:
    return client.V1ConfigMap(
        metadata=client.V1ObjectMeta(name=name, labels=labels, **meta_kwargs),
        data=data if data is not None else {"k": "v"},
    )


def secret(name: str, data: Optional[Dict[str, str]] = None, type_: str = "Opaque", labels: Optional[Dict[str, str]] = None, **meta_kwargs: Any) -> client.V1Secret:
    return client.V1Secret(
        metadata=client.V1ObjectMeta(name=name, labels=labels, **meta_kwargs),
        data={k: b64(v) for k, v in (data if data is not None else {"password": "s3cr3t"}).items()},
        type=type_,
    )


def spc_body(name: str, keyvault: str = "interop-kv", labels: Optional[Dict[str, str]] = None) -> Dict[str, Any]:
    body: Dict[str, Any] = {
        "apiVersion": f"{SPC['group']}/{SPC['version']}",
        "kind": "SecretProviderClass",
        "metadata": {"name": name},
        "spec": {
            "provider": "azure",
            "parameters": {"keyvaultName": keyvault, "tenantId": "7e57a11c-0000-4000-8000-00000000a11c", "objects": "array:\n  - |\n    objectName: plain\n    objectType: secret\n"},
            "secretObjects": [{"secretName": f"{name}-synced", "type": "Opaque", "data": [{"objectName": "plain", "key": "plain"}]}],
        },
    }
    if labels:
        body["metadata"]["labels"] = labels
    return body


def secretsync_body(name: str, spc_name: str = "some-spc", sa: str = "default", target_key: str = "password", status: Optional[Dict[str, Any]] = None) -> Dict[str, Any]:
    body: Dict[str, Any] = {
        "apiVersion": f"{SECRETSYNC['group']}/{SECRETSYNC['version']}",
        "kind": "SecretSync",
        "metadata": {"name": name},
        "spec": {
            "secretProviderClassName": spc_name,
            "serviceAccountName": sa,
            "secretObject": {"type": "Opaque", "data": [{"sourcePath": "plain", "targetKey": target_key}]},
        },
    }
    if status is not None:
        body["status"] = status
    return body


def akvsync_body(name: str, keyvault: str = "interop-kv", status: Optional[Dict[str, Any]] = None) -> Dict[str, Any]:
    body: Dict[str, Any] = {
        "apiVersion": f"{AKVSYNC['group']}/{AKVSYNC['version']}",
        "kind": "AKVSync",
        "metadata": {"name": name},
        "spec": {
            "keyvaultName": keyvault,
            "clientID": "0a11ce00-0000-4000-8000-000000000003",
            "tenantID": "7e57a11c-0000-4000-8000-00000000a11c",
            "serviceAccountName": "default",
            "objects": [{"secretInAKV": "plain"}],
        },
    }
    if status is not None:
        body["status"] = status
    return body


def condition(type_: str, status: str = "True", reason: str = "Synced", message: str = "", generation: int = 1) -> Dict[str, Any]:
    return {
        "type": type_,
        "status": status,
        "reason": reason,
        "message": message,
        "observedGeneration": generation,
        "lastTransitionTime": "2025-01-02T03:04:05Z",
    }


def owner_reference(owner: Any, api_version: str, kind: str, controller: bool = False) -> client.V1OwnerReference:
    m = meta(owner)
    return client.V1OwnerReference(
        api_version=api_version, kind=kind, name=m["name"], uid=m["uid"], controller=controller, block_owner_deletion=controller
    )
