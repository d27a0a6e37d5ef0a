"""Python stubs for the CSI v1 Identity and Node services and kubelet's plugin registration API,
generated at test time from Protos/ by the shared Interop/common/proto_stubs.py.

    csi = csi_stubs.generate(tmp_path)
    with grpc.insecure_channel(f"unix://{socket_path}") as channel:
        info = csi.IdentityStub(channel).GetPluginInfo(csi.GetPluginInfoRequest())

    registration = csi_stubs.generate_registration(tmp_path / "reg")
    registration.RegistrationStub(channel).GetInfo(registration.InfoRequest())
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
    """The csi.v1 API (package ``csi.v1``)."""
    api = proto_stubs.generate(tmpdir, "csi/v1/csi.proto", name="csi_api",
                               doc="Generated csi.v1 API (messages and gRPC stubs of Identity and Node).")
    api.IDENTITY_SERVICE = "csi.v1.Identity"
    api.NODE_SERVICE = "csi.v1.Node"
    return api


def generate_registration(tmpdir: Union[str, Path]) -> types.ModuleType:
    """kubelet's plugin registration API (package ``pluginregistration``)."""
    api = proto_stubs.generate(tmpdir, "pluginregistration/v1/api.proto", name="pluginregistration_api",
                               doc="Generated pluginregistration API (kubelet plugin watcher).")
    api.SERVICE = "pluginregistration.Registration"
    return api
