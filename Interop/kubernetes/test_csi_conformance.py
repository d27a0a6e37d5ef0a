"""The CSI specs csi-sanity v5.4.0 runs against `akvs csi-driver`, replayed with a grpcio client generated
from Protos/csi (csi-sanity itself is a Go program that cannot be built on CI's machines; its real run is
recorded in docs/csi-driver.md). Each test names the csi-sanity spec it follows and sends what that spec
sends, expecting the gRPC code the spec expects. Specs that need CreateVolume (a controller capability an
ephemeral-only driver does not have) are left out, as they are in the recorded run's failures."""

from __future__ import annotations

import os
from pathlib import Path

import grpc
import pytest

import csi_stubs
from conftest import REPO_ROOT
from processes import Proc, free_port

AKVS_BIN = Path(os.environ.get("AKVS_BIN", REPO_ROOT / ".build" / "debug" / "akvs"))
if not AKVS_BIN.is_absolute():
    AKVS_BIN = (REPO_ROOT / AKVS_BIN).resolve()
TIMEOUT = 10


@pytest.fixture(scope="module")
def csi(tmp_path_factory):
    return csi_stubs.generate(tmp_path_factory.mktemp("csi-stubs"))


@pytest.fixture(scope="module")
def channel(kube_server, tmp_path_factory):
    work = tmp_path_factory.mktemp("conformance")
    sock = work / "csi.sock"
    proc = Proc("csi-driver", [str(AKVS_BIN), "csi-driver", "--endpoint", f"unix://{sock}", "--nodeid", "sanity-node",
                               "--kubeconfig", str(kube_server.kubeconfig), "--metrics-addr", f"127.0.0.1:{free_port()}",
                               "--health-addr", f"127.0.0.1:{free_port()}", "--provider-volume", str(work / "providers")],
                "akvs csi-driver ready", work / "driver.log")
    with grpc.insecure_channel(f"unix://{sock}") as ch:
        yield ch
    assert proc.stop() == 0


def code(call, request):
    with pytest.raises(grpc.RpcError) as raised:
        call(request, timeout=TIMEOUT)
    return raised.value.code()


def capability(csi):
    return csi.VolumeCapability(mount=csi.VolumeCapability.MountVolume(),
                                access_mode=csi.VolumeCapability.AccessMode(mode=csi.VolumeCapability.AccessMode.SINGLE_NODE_WRITER))


# Identity Service
def test_get_plugin_capabilities_returns_appropriate_capabilities(csi, channel):
    reply = csi.IdentityStub(channel).GetPluginCapabilities(csi.GetPluginCapabilitiesRequest(), timeout=TIMEOUT)
    for c in reply.capabilities:
        assert c.WhichOneof("type") == "service"
        assert c.service.type in (csi.PluginCapability.Service.CONTROLLER_SERVICE, csi.PluginCapability.Service.VOLUME_ACCESSIBILITY_CONSTRAINTS)


def test_probe_returns_appropriate_information(csi, channel):
    reply = csi.IdentityStub(channel).Probe(csi.ProbeRequest(), timeout=TIMEOUT)
    assert not reply.HasField("ready") or reply.ready.value


def test_get_plugin_info_returns_appropriate_information(csi, channel):
    reply = csi.IdentityStub(channel).GetPluginInfo(csi.GetPluginInfoRequest(), timeout=TIMEOUT)
    assert reply.name == "secrets-store.csi.k8s.io" and reply.vendor_version


# Controller Service (csi-sanity runs these only after ControllerGetCapabilities answered a non-empty list)
def test_controller_get_capabilities_is_a_list_csi_sanity_accepts(csi, channel):
    reply = csi.ControllerStub(channel).ControllerGetCapabilities(csi.ControllerGetCapabilitiesRequest(), timeout=TIMEOUT)
    assert len(reply.capabilities) >= 1, "csi-sanity v5.4.0 fails every controller and node spec on an empty list"


def test_validate_volume_capabilities_fails_when_no_volume_id_is_provided(csi, channel):
    request = csi.ValidateVolumeCapabilitiesRequest(volume_capabilities=[capability(csi)])
    assert code(csi.ControllerStub(channel).ValidateVolumeCapabilities, request) == grpc.StatusCode.INVALID_ARGUMENT


def test_validate_volume_capabilities_fails_when_the_requested_volume_does_not_exist(csi, channel):
    request = csi.ValidateVolumeCapabilitiesRequest(volume_id="some-vol-id", volume_capabilities=[capability(csi)])
    assert code(csi.ControllerStub(channel).ValidateVolumeCapabilities, request) == grpc.StatusCode.NOT_FOUND


# Node Service
def test_node_get_capabilities_returns_appropriate_capabilities(csi, channel):
    reply = csi.NodeStub(channel).NodeGetCapabilities(csi.NodeGetCapabilitiesRequest(), timeout=TIMEOUT)
    known = {csi.NodeServiceCapability.RPC.UNKNOWN, csi.NodeServiceCapability.RPC.STAGE_UNSTAGE_VOLUME,
             csi.NodeServiceCapability.RPC.GET_VOLUME_STATS, csi.NodeServiceCapability.RPC.EXPAND_VOLUME,
             csi.NodeServiceCapability.RPC.VOLUME_CONDITION, csi.NodeServiceCapability.RPC.SINGLE_NODE_MULTI_WRITER,
             csi.NodeServiceCapability.RPC.VOLUME_MOUNT_GROUP}
    assert all(c.rpc.type in known for c in reply.capabilities)


def test_node_get_info_returns_appropriate_values(csi, channel):
    reply = csi.NodeStub(channel).NodeGetInfo(csi.NodeGetInfoRequest(), timeout=TIMEOUT)
    assert reply.node_id == "sanity-node" and reply.max_volumes_per_node >= 0


@pytest.mark.parametrize("field", ["volume_id", "target_path", "volume_capability"])
def test_node_publish_volume_fails_when_a_required_field_is_missing(csi, channel, field):
    fields = dict(volume_id="id", target_path="/tmp/csi-sanity-target", volume_capability=capability(csi))
    del fields[field]
    assert code(csi.NodeStub(channel).NodePublishVolume, csi.NodePublishVolumeRequest(**fields)) == grpc.StatusCode.INVALID_ARGUMENT


@pytest.mark.parametrize("field", ["volume_id", "target_path"])
def test_node_unpublish_volume_fails_when_a_required_field_is_missing(csi, channel, field):
    fields = dict(volume_id="id", target_path="/tmp/csi-sanity-target")
    del fields[field]
    assert code(csi.NodeStub(channel).NodeUnpublishVolume, csi.NodeUnpublishVolumeRequest(**fields)) == grpc.StatusCode.INVALID_ARGUMENT


@pytest.mark.parametrize("field", ["volume_id", "staging_target_path"])
def test_node_stage_volume_fails_when_a_required_field_is_missing(csi, channel, field):
    fields = dict(volume_id="id", staging_target_path="/tmp/csi-sanity-stage", volume_capability=capability(csi))
    del fields[field]
    assert code(csi.NodeStub(channel).NodeStageVolume, csi.NodeStageVolumeRequest(**fields)) == grpc.StatusCode.INVALID_ARGUMENT


@pytest.mark.parametrize("field", ["volume_id", "staging_target_path"])
def test_node_unstage_volume_fails_when_a_required_field_is_missing(csi, channel, field):
    fields = dict(volume_id="id", staging_target_path="/tmp/csi-sanity-stage")
    del fields[field]
    assert code(csi.NodeStub(channel).NodeUnstageVolume, csi.NodeUnstageVolumeRequest(**fields)) == grpc.StatusCode.INVALID_ARGUMENT
