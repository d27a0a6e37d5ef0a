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
        // Inline ephemeral volumes need no controller: none is advertised (kubelet then never calls one).
        Csi_V1_GetPluginCapabilitiesResponse()
    }

    func probe(request: Csi_V1_ProbeRequest, context: ServerContext) async throws -> Csi_V1_ProbeResponse {
        var reply = Csi_V1_ProbeResponse()
        reply.ready = Google_Protobuf_BoolValue(true)
        return reply
    }
}

/// CSI Node: publish and unpublish through `NodePublisher`; stage/unstage only validate; no stats or expansion.
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
        Csi_V1_NodeGetCapabilitiesResponse()
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
