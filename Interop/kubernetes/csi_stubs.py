"""Python stubs for the CSI v1 Identity and Node services, generated at test time.

Nothing generated for Python is committed: a test (or fixture) calls ``generate(tmpdir)``,
which runs ``grpc_tools.protoc`` on the project's own ``Protos/csi/v1/csi.proto`` (package
``csi.v1``) into *tmpdir* and imports the result. Needs ``grpcio`` and ``grpcio-tools`` from PyPI
(Interop/python/requirements.txt). The proto imports ``google/protobuf/wrappers.proto``, which is
found in grpc_tools' bundled include directory; the generated code imports it from ``protobuf``.

The returned module carries the two generated modules (``pb2`` for messages, ``pb2_grpc`` for
the stubs) and re-exports their public names, so a test can write::

    csi = csi_stubs.generate(tmp_path)
    with grpc.insecure_channel(f"unix://{socket_path}") as channel:
        info = csi.IdentityStub(channel).GetPluginInfo(csi.GetPluginInfoRequest())

Modelled on Interop/python/provider_stubs.py.
"""

from __future__ import annotations

import importlib
import importlib.resources
import subprocess
import sys
import types
from pathlib import Path
from typing import Optional, Union

REPO_ROOT = Path(__file__).resolve().parents[2]
PROTO_ROOT = REPO_ROOT / "Protos"
PROTO_FILE = "csi/v1/csi.proto"

# Import names follow the proto's path under Protos/.
_PACKAGE = "csi.v1"
_PB2 = _PACKAGE + ".csi_pb2"
_PB2_GRPC = _PACKAGE + ".csi_pb2_grpc"

# The directory this module last put on sys.path, so a later call can take it off again.
_active_dir: Optional[str] = None


def _forget_previous_import() -> None:
    global _active_dir
    for name in list(sys.modules):
        if name == "csi" or name.startswith("csi."):
            del sys.modules[name]
    if _active_dir is not None and _active_dir in sys.path:
        sys.path.remove(_active_dir)
    _active_dir = None


def _grpc_tools_include() -> str:
    """grpc_tools' bundled .proto files (google/protobuf/*.proto)."""
    return str(importlib.resources.files("grpc_tools") / "_proto")


def generate(tmpdir: Union[str, Path]) -> types.ModuleType:
    """Generate the CSI v1 API into *tmpdir*, import it and return it as one module."""
    global _active_dir
    out = Path(tmpdir).resolve()
    out.mkdir(parents=True, exist_ok=True)

    command = [
        sys.executable, "-m", "grpc_tools.protoc",
        f"-I{PROTO_ROOT}",
        f"-I{_grpc_tools_include()}",
        f"--python_out={out}",
        f"--grpc_python_out={out}",
        str(PROTO_ROOT / PROTO_FILE),
    ]
    result = subprocess.run(command, capture_output=True, text=True)
    if result.returncode != 0:
        raise RuntimeError(
            f"grpc_tools.protoc failed ({result.returncode}): {' '.join(command)}\n{result.stderr}"
        )

    # Make csi/ and csi/v1/ regular packages so they win over any namespace package of the same
    # name elsewhere on sys.path.
    for package_dir in (out / "csi", out / "csi" / "v1"):
        (package_dir / "__init__.py").touch()

    _forget_previous_import()
    sys.path.insert(0, str(out))
    _active_dir = str(out)
    importlib.invalidate_caches()

    pb2 = importlib.import_module(_PB2)
    pb2_grpc = importlib.import_module(_PB2_GRPC)

    api = types.ModuleType("csi_api", "Generated csi.v1 API (messages and gRPC stubs of Identity and Node).")
    for source in (pb2, pb2_grpc):
        for name in dir(source):
            if not name.startswith("_"):
                setattr(api, name, getattr(source, name))
    api.pb2 = pb2
    api.pb2_grpc = pb2_grpc
    api.IDENTITY_SERVICE = "csi.v1.Identity"
    api.NODE_SERVICE = "csi.v1.Node"
    return api
