import AzureProvider
import ProviderClient

/// A provider served inside the driver process instead of over `<dir>/<name>.sock`: one process for the node role.
public protocol InProcessProvider: Sendable {
    /// What the provider's Mount would answer for these attributes and secrets (file mode `mode` unless an object sets its own).
    func mount(attributes: [String: String], secrets: [String: String], mode: Int32) async throws(ProviderCallError) -> ProviderMountResult
}

/// akvs' Azure provider in the driver: the same parameters, identities, shared cache and files as `akvs provider`,
/// and the same error text the gRPC provider would send.
public struct InProcessAzureProvider: InProcessProvider {
    public let provider: AzureProvider

    public init(provider: AzureProvider) { self.provider = provider }

    public func mount(attributes: [String: String], secrets: [String: String], mode: Int32) async throws(ProviderCallError) -> ProviderMountResult {
        let result: MountResult
        do { result = try await provider.mount(attributes: attributes, secrets: secrets, defaultMode: mode) } catch {
            throw .call(provider: "azure", code: "unknown", message: error.mountMessage, outage: error.isOutage)
        }
        return ProviderMountResult(files: result.files.map { ProviderFile(path: $0.path, mode: $0.mode, contents: $0.contents) },
                                   objectVersions: result.objectVersions.map { (id: $0.id, version: $0.version) },
                                   expirations: result.validity.compactMapValues(\.expires))
    }
}
