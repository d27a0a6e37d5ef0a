import AzureProvider
import Foundation
import GRPCCore
import Logging
import ProviderAPI

/// `v1alpha1.CSIDriverProvider` over gRPC, backed by the Azure provider.
struct ProviderGRPCService: V1alpha1_CSIDriverProvider.SimpleServiceProtocol {
    let provider: AzureProvider
    let metrics: PrometheusProviderMetrics
    let version: String
    let logger: Logger

    func version(request: V1alpha1_VersionRequest, context: ServerContext) async throws -> V1alpha1_VersionResponse {
        try await metrics.timeGRPC(method: "/v1alpha1.CSIDriverProvider/Version") {
            var response = V1alpha1_VersionResponse()
            response.version = "v1alpha1"
            response.runtimeName = "akvs-provider-azure"
            response.runtimeVersion = version
            return response
        }
    }

    func mount(request: V1alpha1_MountRequest, context: ServerContext) async throws -> V1alpha1_MountResponse {
        try await metrics.timeGRPC(method: "/v1alpha1.CSIDriverProvider/Mount") {
            let attributes = try decodeMap(request.attributes, what: "attributes")
            let secrets = request.secrets.isEmpty ? [:] : try decodeMap(request.secrets, what: "secrets")
            let mode = try decodePermission(request.permission)
            let result: MountResult
            do throws(ProviderError) {
                result = try await provider.mount(attributes: attributes, secrets: secrets, defaultMode: mode)
            } catch {
                let message = error.mountMessage
                logger.warning("mount failed", metadata: ["pod": "\(attributes["csi.storage.k8s.io/pod.namespace"] ?? "")/\(attributes["csi.storage.k8s.io/pod.name"] ?? "")",
                                                          "class": "\(error.failureClass.rawValue)"])
                // The code stays Unknown, as upstream's; the kind of failure travels in a trailer an akvs driver reads.
                var metadata = Metadata()
                metadata.addString(error.failureClass.rawValue, forKey: MountFailureTrailer.key)
                throw RPCError(code: .unknown, message: message, metadata: metadata)
            }
            var response = V1alpha1_MountResponse()
            response.objectVersion = result.objectVersions.map { v in
                var o = V1alpha1_ObjectVersion()
                o.id = v.id
                o.version = v.version
                return o
            }
            response.files = result.files.map { f in
                var file = V1alpha1_File()
                file.path = f.path
                file.mode = f.mode
                file.contents = Data(f.contents)
                return file
            }
            return response
        }
    }

    func decodeMap(_ json: String, what: String) throws -> [String: String] {
        if json.isEmpty || json == "null" { return [:] }
        guard let object = try? JSONSerialization.jsonObject(with: Data(json.utf8)) as? [String: Any] else {
            throw RPCError(code: .unknown, message: "failed to unmarshal \(what), error: expected a JSON object of strings")
        }
        var map: [String: String] = [:]
        for (key, value) in object {
            guard let text = value as? String else {
                throw RPCError(code: .unknown, message: "failed to unmarshal \(what), error: value of '\(key)' is not a string")
            }
            map[key] = text
        }
        return map
    }

    /// The driver sends `json.Marshal(os.FileMode(0644))`, i.e. the decimal string "420".
    func decodePermission(_ json: String) throws -> Int32 {
        if json.isEmpty { return 0o644 }
        guard let mode = Int32(json.trimmingCharacters(in: .whitespaces)), (0...0o777).contains(mode) else {
            throw RPCError(code: .unknown, message: "failed to unmarshal file permission, error: '\(json)' is not a decimal file mode such as 420")
        }
        return mode
    }
}

/// `grpc.health.v1.Health`: Check answers SERVING; Watch is unimplemented, as upstream.
struct HealthService: Grpc_Health_V1_Health.SimpleServiceProtocol {
    func check(request: Grpc_Health_V1_HealthCheckRequest, context: ServerContext) async throws -> Grpc_Health_V1_HealthCheckResponse {
        var response = Grpc_Health_V1_HealthCheckResponse()
        response.status = .serving
        return response
    }

    func watch(request: Grpc_Health_V1_HealthCheckRequest, response: RPCWriter<Grpc_Health_V1_HealthCheckResponse>, context: ServerContext) async throws {
        throw RPCError(code: .unimplemented, message: "Watch is not implemented")
    }
}
