import CSIAPI
import GRPCCore
import SwiftProtobuf

/// CSI Identity: the plugin's name and version, no controller service, always ready.
struct IdentityService: Csi_V1_Identity.SimpleServiceProtocol {
    let configuration: DriverConfiguration

    func getPluginInfo(request: Csi_V1_GetPluginInfoRequest, context: ServerContext) async throws -> Csi_V1_GetPluginInfoResponse {
        guard !configuration.driverName.isEmpty else { throw RPCError(code: .unavailable, message: "Driver name not configured") }
        guard !configuration.version.isEmpty else { throw RPCError(code: .unavailable, message: "Driver is missing version") }
        var reply = Csi_V1_GetPluginInfoResponse()
        reply.name = configuration.driverName
        reply.vendorVersion = configuration.version
        return reply
    }

    func getPluginCapabilities(request: Csi_V1_GetPluginCapabilitiesRequest, context: ServerContext) async throws -> Csi_V1_GetPluginCapabilitiesResponse {
        // The Controller service is served (with no capabilities), so it is advertised, as upstream does; the
        // CSIDriver object has attachRequired: false, so Kubernetes never calls it.
        var service = Csi_V1_PluginCapability()
        service.service.type = .controllerService
        var reply = Csi_V1_GetPluginCapabilitiesResponse()
        reply.capabilities = [service]
        return reply
    }

    func probe(request: Csi_V1_ProbeRequest, context: ServerContext) async throws -> Csi_V1_ProbeResponse {
        var reply = Csi_V1_ProbeResponse()
        reply.ready = Google_Protobuf_BoolValue(true)
        return reply
    }
}

/// CSI Controller offering nothing: inline ephemeral volumes are neither created nor attached.
/// ValidateVolumeCapabilities, which every controller must serve, checks its arguments and finds no such volume;
/// every other RPC is UNIMPLEMENTED, as the CSI spec has a plugin answer an RPC its capabilities do not offer.
struct ControllerService: Csi_V1_Controller.SimpleServiceProtocol {
    func controllerGetCapabilities(request: Csi_V1_ControllerGetCapabilitiesRequest, context: ServerContext) async throws -> Csi_V1_ControllerGetCapabilitiesResponse {
        // Upstream's exact answer: one RPC capability of type UNKNOWN, i.e. none. Released csi-sanity (v5.4.0)
        // refuses an empty list before every controller and node spec; this one it accepts.
        var unknown = Csi_V1_ControllerServiceCapability()
        unknown.rpc.type = .unknown
        var reply = Csi_V1_ControllerGetCapabilitiesResponse()
        reply.capabilities = [unknown]
        return reply
    }

    func validateVolumeCapabilities(request: Csi_V1_ValidateVolumeCapabilitiesRequest, context: ServerContext) async throws -> Csi_V1_ValidateVolumeCapabilitiesResponse {
        guard !request.volumeID.isEmpty else { throw RPCError(code: .invalidArgument, message: "Volume ID missing in request") }
        guard !request.volumeCapabilities.isEmpty else { throw RPCError(code: .invalidArgument, message: "Volume capabilities missing in request") }
        throw RPCError(code: .notFound, message: "volume \(request.volumeID) does not exist: secrets-store.csi.k8s.io has no pre-provisioned volumes (inline ephemeral volumes only)")
    }

    static func unimplemented(_ rpc: String) -> RPCError {
        RPCError(code: .unimplemented, message: "\(rpc) is not implemented: secrets-store.csi.k8s.io serves inline ephemeral volumes only")
    }

    func createVolume(request: Csi_V1_CreateVolumeRequest, context: ServerContext) async throws -> Csi_V1_CreateVolumeResponse { throw Self.unimplemented("CreateVolume") }
    func deleteVolume(request: Csi_V1_DeleteVolumeRequest, context: ServerContext) async throws -> Csi_V1_DeleteVolumeResponse { throw Self.unimplemented("DeleteVolume") }
    func controllerPublishVolume(request: Csi_V1_ControllerPublishVolumeRequest, context: ServerContext) async throws -> Csi_V1_ControllerPublishVolumeResponse {
        throw Self.unimplemented("ControllerPublishVolume")
    }
    func controllerUnpublishVolume(request: Csi_V1_ControllerUnpublishVolumeRequest, context: ServerContext) async throws -> Csi_V1_ControllerUnpublishVolumeResponse {
        throw Self.unimplemented("ControllerUnpublishVolume")
    }
    func listVolumes(request: Csi_V1_ListVolumesRequest, context: ServerContext) async throws -> Csi_V1_ListVolumesResponse { throw Self.unimplemented("ListVolumes") }
    func getCapacity(request: Csi_V1_GetCapacityRequest, context: ServerContext) async throws -> Csi_V1_GetCapacityResponse { throw Self.unimplemented("GetCapacity") }
    func createSnapshot(request: Csi_V1_CreateSnapshotRequest, context: ServerContext) async throws -> Csi_V1_CreateSnapshotResponse { throw Self.unimplemented("CreateSnapshot") }
    func deleteSnapshot(request: Csi_V1_DeleteSnapshotRequest, context: ServerContext) async throws -> Csi_V1_DeleteSnapshotResponse { throw Self.unimplemented("DeleteSnapshot") }
    func listSnapshots(request: Csi_V1_ListSnapshotsRequest, context: ServerContext) async throws -> Csi_V1_ListSnapshotsResponse { throw Self.unimplemented("ListSnapshots") }
    func controllerExpandVolume(request: Csi_V1_ControllerExpandVolumeRequest, context: ServerContext) async throws -> Csi_V1_ControllerExpandVolumeResponse {
        throw Self.unimplemented("ControllerExpandVolume")
    }
    func controllerGetVolume(request: Csi_V1_ControllerGetVolumeRequest, context: ServerContext) async throws -> Csi_V1_ControllerGetVolumeResponse {
        throw Self.unimplemented("ControllerGetVolume")
    }
    func controllerModifyVolume(request: Csi_V1_ControllerModifyVolumeRequest, context: ServerContext) async throws -> Csi_V1_ControllerModifyVolumeResponse {
        throw Self.unimplemented("ControllerModifyVolume")
    }
}

/// CSI Node: publish and unpublish through `NodePublisher`; stage/unstage only validate (advertised, as upstream); no stats or expansion.
struct NodeService: Csi_V1_Node.SimpleServiceProtocol {
    let publisher: NodePublisher

    func nodePublishVolume(request: Csi_V1_NodePublishVolumeRequest, context: ServerContext) async throws -> Csi_V1_NodePublishVolumeResponse {
        let publish = PublishRequest(volumeID: request.volumeID, targetPath: request.targetPath, readOnly: request.readonly,
                                     hasVolumeCapability: request.hasVolumeCapability, volumeContext: request.volumeContext, secrets: request.secrets)
        do { try await publisher.publish(publish) } catch { throw Self.status(error) }
        return Csi_V1_NodePublishVolumeResponse()
    }

    func nodeUnpublishVolume(request: Csi_V1_NodeUnpublishVolumeRequest, context: ServerContext) async throws -> Csi_V1_NodeUnpublishVolumeResponse {
        do { try await publisher.unpublish(volumeID: request.volumeID, targetPath: request.targetPath) } catch { throw Self.status(error) }
        return Csi_V1_NodeUnpublishVolumeResponse()
    }

    func nodeStageVolume(request: Csi_V1_NodeStageVolumeRequest, context: ServerContext) async throws -> Csi_V1_NodeStageVolumeResponse {
        guard !request.volumeID.isEmpty else { throw RPCError(code: .invalidArgument, message: "Volume ID missing in request") }
        guard !request.stagingTargetPath.isEmpty else { throw RPCError(code: .invalidArgument, message: "Target path missing in request") }
        guard request.hasVolumeCapability else { throw RPCError(code: .invalidArgument, message: "Volume Capability missing in request") }
        return Csi_V1_NodeStageVolumeResponse()
    }

    func nodeUnstageVolume(request: Csi_V1_NodeUnstageVolumeRequest, context: ServerContext) async throws -> Csi_V1_NodeUnstageVolumeResponse {
        guard !request.volumeID.isEmpty else { throw RPCError(code: .invalidArgument, message: "Volume ID missing in request") }
        guard !request.stagingTargetPath.isEmpty else { throw RPCError(code: .invalidArgument, message: "Target path missing in request") }
        return Csi_V1_NodeUnstageVolumeResponse()
    }

    func nodeGetVolumeStats(request: Csi_V1_NodeGetVolumeStatsRequest, context: ServerContext) async throws -> Csi_V1_NodeGetVolumeStatsResponse {
        throw RPCError(code: .unimplemented, message: "NodeGetVolumeStats is not implemented")
    }

    func nodeExpandVolume(request: Csi_V1_NodeExpandVolumeRequest, context: ServerContext) async throws -> Csi_V1_NodeExpandVolumeResponse {
        throw RPCError(code: .unimplemented, message: "NodeExpandVolume is not implemented")
    }

    func nodeGetCapabilities(request: Csi_V1_NodeGetCapabilitiesRequest, context: ServerContext) async throws -> Csi_V1_NodeGetCapabilitiesResponse {
        // STAGE_UNSTAGE_VOLUME, as upstream: kubelet never stages inline ephemeral volumes, and the two RPCs
        // check their arguments as the spec asks, so CSI test suites exercise them.
        var stage = Csi_V1_NodeServiceCapability()
        stage.rpc.type = .stageUnstageVolume
        var reply = Csi_V1_NodeGetCapabilitiesResponse()
        reply.capabilities = [stage]
        return reply
    }

    func nodeGetInfo(request: Csi_V1_NodeGetInfoRequest, context: ServerContext) async throws -> Csi_V1_NodeGetInfoResponse {
        var reply = Csi_V1_NodeGetInfoResponse()
        reply.nodeID = publisher.configuration.nodeID
        return reply
    }

    /// Request errors are InvalidArgument; a missing SecretProviderClass NotFound; an absent provider Unavailable; the rest Internal.
    static func status(_ error: PublishError) -> RPCError {
        switch error {
        case .invalidRequest, .missingAttribute, .provider(.invalidName), .spcInvalid: return RPCError(code: .invalidArgument, message: error.description)
        case .spcNotFound: return RPCError(code: .notFound, message: error.description)
        case .provider(.notFound): return RPCError(code: .unavailable, message: error.description)
        default: return RPCError(code: .internalError, message: "failed to mount secrets store objects: \(error.description)")
        }
    }
}
