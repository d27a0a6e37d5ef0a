"""Python stubs for the Secrets Store CSI provider API, generated at test time.

Nothing generated for Python is committed: a test (or fixture) calls ``generate(tmpdir)``,
which runs ``grpc_tools.protoc`` on ``Protos/provider/v1alpha1/service.proto`` into *tmpdir*
and imports the result. Needs ``grpcio`` and ``grpcio-tools`` from PyPI.

The returned module carries the two generated modules (``pb2`` for messages, ``pb2_grpc`` for
the stub and servicer) and re-exports their public names, so a test can write::

    api = provider_stubs.generate(tmp_path)
    with grpc.insecure_channel(f"unix://{socket_path}") as channel:
        reply = api.CSIDriverProviderStub(channel).Version(api.VersionRequest(version="v1alpha1"))

For the standard health service use PyPI's ``grpcio-health-checking`` (``grpc_health.v1``)
instead of generating ``grpc/health/v1/health.proto``: its output would live in a ``grpc``
package, which clashes with grpcio's own.
"""

from __future__ import annotations

import importlib
import subprocess
import sys
import types
from pathlib import Path
from typing import Optional, Union

REPO_ROOT = Path(__file__).resolve().parents[2]
PROTO_ROOT = REPO_ROOT / "Protos"
PROTO_FILE = "provider/v1alpha1/service.proto"

# Import names follow the proto's path under Protos/.
_PACKAGE = "provider.v1alpha1"
_PB2 = _PACKAGE + ".service_pb2"
_PB2_GRPC = _PACKAGE + ".service_pb2_grpc"

# The directory this module last put on sys.path, so a later call can take it off again.
_active_dir: Optional[str] = None


def _forget_previous_import() -> None:
    global _active_dir
    for name in list(sys.modules):
        if name == "provider" or name.startswith("provider."):
            del sys.modules[name]
    if _active_dir is not None and _active_dir in sys.path:
        sys.path.remove(_active_dir)
    _active_dir = None


def generate(tmpdir: Union[str, Path]) -> types.ModuleType:
    """Generate the provider API into *tmpdir*, import it and return it as one module."""
    global _active_dir
    out = Path(tmpdir).resolve()
    out.mkdir(parents=True, exist_ok=True)

    command = [
        sys.executable, "-m", "grpc_tools.protoc",
        f"-I{PROTO_ROOT}",
        f"--python_out={out}",
        f"--grpc_python_out={out}",
        str(PROTO_ROOT / PROTO_FILE),
    ]
    result = subprocess.run(command, capture_output=True, text=True)
    if result.returncode != 0:
        raise RuntimeError(
            f"grpc_tools.protoc failed ({result.returncode}): {' '.join(command)}\n{result.stderr}"
        )

    # Make provider/ and provider/v1alpha1/ regular packages so they win over any namespace
    # package of the same name elsewhere on sys.path.
    for package_dir in (out / "provider", out / "provider" / "v1alpha1"):
        (package_dir / "__init__.py").touch()

    _forget_previous_import()
    sys.path.insert(0, str(out))
    _active_dir = str(out)
    importlib.invalidate_caches()

    pb2 = importlib.import_module(_PB2)
    pb2_grpc = importlib.import_module(_PB2_GRPC)

    api = types.ModuleType("provider_api", "Generated v1alpha1 CSI provider API (messages and gRPC stubs).")
    for source in (pb2, pb2_grpc):
        for name in dir(source):
            if not name.startswith("_"):
                setattr(api, name, getattr(source, name))
    api.pb2 = pb2
    api.pb2_grpc = pb2_grpc
    api.SERVICE_NAME = "v1alpha1.CSIDriverProvider"
    return api
