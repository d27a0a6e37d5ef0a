"""Python stubs for the Secrets Store CSI provider API (``v1alpha1.CSIDriverProvider``), generated at
test time from Protos/provider/v1alpha1/service.proto by the shared Interop/common/proto_stubs.py.

    api = provider_stubs.generate(tmp_path)
    with grpc.insecure_channel(f"unix://{socket_path}") as channel:
        reply = api.CSIDriverProviderStub(channel).Version(api.VersionRequest(version="v1alpha1"))
"""

from __future__ import annotations

import sys
import types
from pathlib import Path
from typing import Union

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "common"))
import proto_stubs  # noqa: E402

REPO_ROOT = proto_stubs.REPO_ROOT


def generate(tmpdir: Union[str, Path]) -> types.ModuleType:
    """The provider API (package ``v1alpha1``, file path provider/v1alpha1)."""
    api = proto_stubs.generate(tmpdir, "provider/v1alpha1/service.proto", name="provider_api",
                               doc="Generated v1alpha1 CSI provider API (messages and gRPC stubs).")
    api.SERVICE_NAME = "v1alpha1.CSIDriverProvider"
    return api
