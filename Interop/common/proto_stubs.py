"""gRPC stubs generated at test time from the project's own protos (shared by every Interop suite).

Nothing generated for Python is committed. ``generate(tmpdir, "csi/v1/csi.proto")`` runs
``grpc_tools.protoc`` (PyPI ``grpcio-tools``) on ``Protos/<proto>`` into *tmpdir*, imports the result
and returns one module that re-exports the public names of the message module (``pb2``) and the
stub module (``pb2_grpc``)::

    csi = proto_stubs.generate(tmp_path, "csi/v1/csi.proto")
    with grpc.insecure_channel(f"unix://{socket_path}") as channel:
        info = csi.IdentityStub(channel).GetPluginInfo(csi.GetPluginInfoRequest())

Import names follow the proto's path under Protos/ (``csi/v1/csi.proto`` -> ``csi.v1.csi_pb2``).
Generating a proto again replaces the earlier import of the same top-level package; protos under
different top-level folders can be imported side by side. grpc_tools' bundled include directory is
on the path, so ``google/protobuf/*.proto`` imports resolve.

For the standard health service use PyPI's ``grpcio-health-checking`` (``grpc_health.v1``) instead of
generating ``grpc/health/v1/health.proto``: its output would live in a ``grpc`` package, which
clashes with grpcio's own.
"""

from __future__ import annotations

import importlib
import importlib.resources
import subprocess
import sys
import types
from pathlib import Path
from typing import Dict, Union

REPO_ROOT = Path(__file__).resolve().parents[2]
PROTO_ROOT = REPO_ROOT / "Protos"

# Output directory put on sys.path per top-level package, so a later generate() can take it off again.
_active: Dict[str, str] = {}


def _forget(top: str) -> None:
    for name in list(sys.modules):
        if name == top or name.startswith(top + "."):
            del sys.modules[name]
    previous = _active.pop(top, None)
    if previous is not None and previous in sys.path:
        sys.path.remove(previous)


def _include() -> str:
    """grpc_tools' bundled .proto files (google/protobuf/*.proto)."""
    return str(importlib.resources.files("grpc_tools") / "_proto")


def generate(tmpdir: Union[str, Path], proto: str, name: str = "", doc: str = "") -> types.ModuleType:
    """Generate Protos/<proto> into *tmpdir*, import it and return it as one module."""
    out = Path(tmpdir).resolve()
    out.mkdir(parents=True, exist_ok=True)
    command = [
        sys.executable, "-m", "grpc_tools.protoc",
        f"-I{PROTO_ROOT}", f"-I{_include()}",
        f"--python_out={out}", f"--grpc_python_out={out}",
        str(PROTO_ROOT / proto),
    ]
    result = subprocess.run(command, capture_output=True, text=True)
    if result.returncode != 0:
        raise RuntimeError(f"grpc_tools.protoc failed ({result.returncode}): {' '.join(command)}\n{result.stderr}")

    folders = Path(proto).parent.parts
    # Regular packages, so they win over any namespace package of the same name elsewhere on sys.path.
    for depth in range(1, len(folders) + 1):
        (out.joinpath(*folders[:depth]) / "__init__.py").touch()
    top = folders[0]
    _forget(top)
    sys.path.insert(0, str(out))
    _active[top] = str(out)
    importlib.invalidate_caches()

    base = ".".join(folders + (Path(proto).stem,))
    pb2 = importlib.import_module(base + "_pb2")
    pb2_grpc = importlib.import_module(base + "_pb2_grpc")
    api = types.ModuleType(name or base.replace(".", "_"), doc or f"Generated from Protos/{proto}.")
    for source in (pb2, pb2_grpc):
        for attribute in dir(source):
            if not attribute.startswith("_"):
                setattr(api, attribute, getattr(source, attribute))
    api.pb2 = pb2
    api.pb2_grpc = pb2_grpc
    return api
