"""Fixtures for the Python interop suite.

The suite runs the official Azure SDK for Python, unchanged, against `akvs emulator`. Only
endpoints, the authority, the CA bundle and documented SDK options are configured.

A session fixture starts the emulator binary (env `AKVS_BIN`, default `<repo>/.build/debug/akvs`)
with `Interop/python/seed.yaml`, waits for its ready line, reads `<state-dir>/credentials.json`
and points `REQUESTS_CA_BUNDLE` at the emulator's CA for the whole session. Nothing starts at
collection time.
"""

from __future__ import annotations

import json
import logging
import os
import queue
import subprocess
import sys
import threading
import time
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from types import SimpleNamespace
from typing import Any, Dict, List, Optional
from urllib.parse import urlsplit

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "common"))
from processes import pump_stdout  # noqa: E402
import requests

HERE = Path(__file__).resolve().parent
REPO_ROOT = HERE.parents[1]
SEED_RELATIVE = "Interop/python/seed.yaml"
DEFAULT_BINARY = REPO_ROOT / ".build" / "debug" / "akvs"
READY_PREFIX = "akvs emulator ready"
READY_TIMEOUT_SECONDS = 60.0

# Values that also appear in seed.yaml (keep in sync).
SEED_TENANT_ID = "7e57a11c-0000-4000-8000-00000000a11c"
SEED = SimpleNamespace(
    tenant_id=SEED_TENANT_ID,
    vault="interop-kv",
    other_vault="other-kv",
    reader=SimpleNamespace(client_id="0a11ce00-0000-4000-8000-000000000001", secret="reader-secret-value"),
    outsider=SimpleNamespace(client_id="0a11ce00-0000-4000-8000-000000000002", secret="outsider-secret-value"),
    workload=SimpleNamespace(
        client_id="0a11ce00-0000-4000-8000-000000000003",
        issuer="https://issuer.interop.test",
        subject="system:serviceaccount:apps:web",
        audience="api://AzureADTokenExchange",
    ),
    user_mi=SimpleNamespace(client_id="0a11ce00-0000-4000-8000-000000000004"),
    system_mi=SimpleNamespace(client_id="0a11ce00-0000-4000-8000-000000000005"),
    secrets=SimpleNamespace(
        plain=("plain", "plain-value"),
        rotating=("rotating", ["rotating-v1", "rotating-v2", "rotating-v3"]),
        disabled="disabled-secret",
        counted=("counted", "counted-value"),
        throttled=("throttled", "throttled-value"),
        identity_target=("identity-target", "identity-target-value"),
        other=("other-secret", "other-value"),
    ),
    keys=SimpleNamespace(rsa="rsa-key", ec="ec-key"),
    certs=SimpleNamespace(self_pfx="self-pfx", emu_pfx="emu-pfx", emu_pem="emu-pem"),
)

REQUIRED_CREDENTIAL_FIELDS = (
    "tenantId",
    "clientId",
    "clientSecret",
    "authorityHost",
    "imdsEndpoint",
    "adminEndpoint",
    "caFile",
    "vaultUrls",
)

# On a failing test pytest shows these records ("Captured log call"): every HTTP request and
# response the SDK made (method, URL, status, redacted headers) and azure-identity's messages.
logging.getLogger("azure.core.pipeline.policies.http_logging_policy").setLevel(logging.INFO)
logging.getLogger("azure.identity").setLevel(logging.INFO)


# --------------------------------------------------------------------------------------------
# The emulator process
# --------------------------------------------------------------------------------------------


@dataclass
class Emulator:
    process: subprocess.Popen
    binary: Path
    state_dir: Path
    stderr_path: Path
    ready_line: str = ""
    stdout_lines: List[str] = field(default_factory=list)
    credentials: Dict[str, Any] = field(default_factory=dict)

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

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=10)


_ACTIVE: Optional[Emulator] = None
_STDERR_OFFSET = pytest.StashKey[int]()


def _resolve_binary() -> Path:
    configured = os.environ.get("AKVS_BIN")
    binary = Path(configured).expanduser() if configured else DEFAULT_BINARY
    if not binary.is_absolute():
        binary = (REPO_ROOT / binary).resolve()
    if not binary.is_file() or not os.access(binary, os.X_OK):
        source = "AKVS_BIN" if configured else "the default path"
        pytest.fail(
            f"akvs emulator binary not found or not executable at {binary} ({source}). "
            f"Run `swift build` in {REPO_ROOT} first, or set AKVS_BIN to the akvs executable.",
            pytrace=False,
        )
    return binary


def _start_emulator(tmp_path_factory: pytest.TempPathFactory) -> Emulator:
    binary = _resolve_binary()
    state_dir = tmp_path_factory.mktemp("akvs-state")
    stderr_path = state_dir.parent / f"{state_dir.name}-emulator-stderr.log"
    args = [
        str(binary),
        "emulator",
        "--listen",
        "127.0.0.1:0",
        "--state-dir",
        str(state_dir),
        "--seed",
        SEED_RELATIVE,
    ]
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
    emu = Emulator(process=process, binary=binary, state_dir=state_dir, stderr_path=stderr_path)
    lines: "queue.Queue[Optional[str]]" = queue.Queue()
    threading.Thread(
        target=pump_stdout, args=(process.stdout, lines, emu.stdout_lines), name="akvs-stdout", daemon=True
    ).start()

    def fail(reason: str) -> None:
        emu.stop()
        stdout = "".join(emu.stdout_lines) or "<empty>"
        pytest.fail(
            f"{reason}\ncommand: {' '.join(args)} (cwd {REPO_ROOT})\n"
            f"--- emulator stdout ---\n{stdout}\n"
            f"--- emulator stderr ---\n{emu.stderr_text(limit=20000) or '<empty>'}",
            pytrace=False,
        )

    deadline = time.monotonic() + READY_TIMEOUT_SECONDS
    while True:
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            fail(f"akvs emulator did not print '{READY_PREFIX} …' within {READY_TIMEOUT_SECONDS:.0f} s")
        try:
            line = lines.get(timeout=min(remaining, 0.5))
        except queue.Empty:
            if process.poll() is not None and lines.empty():
                fail(f"akvs emulator exited with status {process.returncode} before it was ready")
            continue
        if line is None:
            process.wait(timeout=10)
            fail(f"akvs emulator closed stdout (exit status {process.returncode}) before it was ready")
        if line.startswith(READY_PREFIX):
            emu.ready_line = line.strip()
            break

    credentials_path = state_dir / "credentials.json"
    try:
        emu.credentials = json.loads(credentials_path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as ex:
        fail(f"cannot read {credentials_path} after the ready line: {ex}")
    missing = [name for name in REQUIRED_CREDENTIAL_FIELDS if name not in emu.credentials]
    if missing:
        fail(f"{credentials_path} lacks {missing}; it holds {sorted(emu.credentials)}")
    if not Path(emu.credentials["caFile"]).is_file():
        fail(f"caFile {emu.credentials['caFile']!r} from credentials.json does not exist")
    return emu


@pytest.fixture(scope="session")
def emulator(tmp_path_factory: pytest.TempPathFactory):
    """The running emulator. REQUESTS_CA_BUNDLE points at its CA while the session lasts."""
    global _ACTIVE
    emu = _start_emulator(tmp_path_factory)
    _ACTIVE = emu
    try:
        with pytest.MonkeyPatch.context() as mp:
            mp.setenv("REQUESTS_CA_BUNDLE", emu.credentials["caFile"])
            # Loopback traffic must never go through a proxy.
            for name in ("NO_PROXY", "no_proxy"):
                current = os.environ.get(name, "")
                extra = "localhost,127.0.0.1,.localhost"
                mp.setenv(name, f"{current},{extra}" if current else extra)
            yield emu
    finally:
        _ACTIVE = None
        emu.stop()


@pytest.hookimpl(tryfirst=True)
def pytest_runtest_setup(item: pytest.Item) -> None:
    item.stash[_STDERR_OFFSET] = _ACTIVE.stderr_size() if _ACTIVE is not None else 0


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo):
    outcome = yield
    report = outcome.get_result()
    emu = _ACTIVE
    if emu is None or not report.failed:
        return
    start = item.stash.get(_STDERR_OFFSET, 0)
    text = emu.stderr_text(start=start, limit=20000)
    status = "running" if emu.process.poll() is None else f"exited with status {emu.process.returncode}"
    report.sections.append(
        (f"akvs emulator stderr during this test ({status}; full log {emu.stderr_path})", text or "<empty>")
    )


# --------------------------------------------------------------------------------------------
# Admin API helper
# --------------------------------------------------------------------------------------------


class AdminError(AssertionError):
    pass


class Admin:
    """The emulator's admin API (`/_emulator/...`, docs/emulator.md), over HTTPS with the emulator CA."""

    def __init__(self, endpoint: str, ca_file: str) -> None:
        base = endpoint.rstrip("/")
        if base.endswith("/_emulator"):
            base = base[: -len("/_emulator")]
        self.base = base
        self.session = requests.Session()
        self.session.verify = ca_file
        self.session.trust_env = False  # no proxies, and the CA above, whatever the environment says

    def url(self, path: str) -> str:
        return f"{self.base}/_emulator/{path.lstrip('/')}"

    def request(self, method: str, path: str, body: Any = None) -> Any:
        url = self.url(path)
        response = self.session.request(method, url, json=body, timeout=30)
        if not 200 <= response.status_code < 300:
            raise AdminError(
                f"admin API {method} {url} -> {response.status_code}\n"
                f"request body: {json.dumps(body) if body is not None else '<none>'}\n"
                f"response: {response.text[:4000]}"
            )
        if not response.content:
            return None
        try:
            return response.json()
        except ValueError:
            return response.text

    # counters
    def counters(self) -> Dict[str, Any]:
        return self.request("GET", "counters")

    def reset_counters(self) -> None:
        self.request("DELETE", "counters")

    # faults
    def faults(self, vault: str) -> Dict[str, Any]:
        return self.request("GET", f"vaults/{vault}/faults")

    def set_faults(self, vault: str, faults: Dict[str, Any]) -> Any:
        return self.request("PUT", f"vaults/{vault}/faults", faults)

    # federation
    def add_issuer(self, issuer: str, jwks: Dict[str, Any]) -> Any:
        return self.request("POST", "issuers", {"issuer": issuer, "jwks": jwks})

    def issuer_token(self, subject: str, audience: str = "api://AzureADTokenExchange", expires_in: int = 3600) -> str:
        answer = self.request(
            "POST", "issuer/token", {"subject": subject, "audience": audience, "expiresIn": expires_in}
        )
        if not isinstance(answer, dict) or not isinstance(answer.get("token"), str):
            raise AdminError(f"POST {self.url('issuer/token')} answered {answer!r}, expected {{\"token\": \"<JWT>\"}}")
        return answer["token"]

    # identities
    def add_identity(self, identity: Dict[str, Any]) -> Any:
        return self.request("POST", "identities", identity)

    @contextmanager
    def faults_changed(self, vault: str, **changes: Any):
        """Replace some of the vault's faults for the block, then put the previous faults back."""
        try:
            original = self.faults(vault)
        except AdminError:
            original = None
        if not isinstance(original, dict):
            original = dict(NO_FAULTS)
        self.set_faults(vault, {**original, **changes})
        try:
            yield
        finally:
            self.set_faults(vault, original)

    @staticmethod
    def vault_counters(counters: Dict[str, Any], vault: str) -> Dict[str, Any]:
        return vault_counters(counters, vault)


# Faults with nothing switched on (the seed's values for interop-kv).
NO_FAULTS = {
    "latencyMs": 0,
    "jitterMs": 0,
    "errorRate": 0,
    "throttle": {"limit": 4000, "windowSeconds": 10},
    "outage": False,
}


def vault_counters(counters: Dict[str, Any], vault: str) -> Dict[str, Any]:
    """`counters["vaults"][vault]`, or {} when the vault has no entry yet."""
    return (counters.get("vaults") or {}).get(vault) or {}


# --------------------------------------------------------------------------------------------
# Fixtures for tests
# --------------------------------------------------------------------------------------------


@pytest.fixture(scope="session")
def seed() -> SimpleNamespace:
    return SEED


@pytest.fixture(scope="session")
def credentials(emulator: Emulator) -> Dict[str, Any]:
    """The parsed `<state-dir>/credentials.json`."""
    return emulator.credentials


@pytest.fixture(scope="session")
def admin(credentials) -> Admin:
    endpoint = credentials.get("adminEndpoint") or credentials["authorityHost"]
    helper = Admin(endpoint, credentials["caFile"])
    yield helper
    helper.session.close()


@pytest.fixture(scope="session")
def authority(credentials) -> str:
    return credentials["authorityHost"]


@pytest.fixture(scope="session")
def tenant_id(credentials) -> str:
    return credentials["tenantId"]


@pytest.fixture(scope="session")
def vault_url(credentials) -> str:
    return credentials["vaultUrls"][SEED.vault]


@pytest.fixture(scope="session")
def other_vault_url(credentials) -> str:
    return credentials["vaultUrls"][SEED.other_vault]


@pytest.fixture(scope="session")
def imds_origin(credentials) -> str:
    """scheme://host:port of the IMDS listener, the form AZURE_POD_IDENTITY_AUTHORITY_HOST takes."""
    endpoint = credentials["imdsEndpoint"]
    parts = urlsplit(endpoint)
    return f"{parts.scheme}://{parts.netloc}" if parts.scheme and parts.netloc else endpoint.rstrip("/")


@pytest.fixture(scope="session")
def secret_credential(tenant_id, authority):
    """Factory: a fresh ClientSecretCredential against the emulator's authority."""
    from azure.identity import ClientSecretCredential

    made = []

    def make(client_id: str, client_secret: str) -> "ClientSecretCredential":
        cred = ClientSecretCredential(
            tenant_id, client_id, client_secret, authority=authority, disable_instance_discovery=True
        )
        made.append(cred)
        return cred

    yield make
    for cred in made:
        cred.close()


@pytest.fixture(scope="session")
def reader_credential(secret_credential):
    return secret_credential(SEED.reader.client_id, SEED.reader.secret)


@pytest.fixture(scope="session")
def admin_credential(secret_credential, credentials):
    return secret_credential(credentials["clientId"], credentials["clientSecret"])


@pytest.fixture(scope="session")
def reader_secrets(vault_url, reader_credential):
    from azure.keyvault.secrets import SecretClient

    client = SecretClient(vault_url, reader_credential)
    yield client
    client.close()


@pytest.fixture(scope="session")
def admin_secrets(vault_url, admin_credential):
    from azure.keyvault.secrets import SecretClient

    client = SecretClient(vault_url, admin_credential)
    yield client
    client.close()
