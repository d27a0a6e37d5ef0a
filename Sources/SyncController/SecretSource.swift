import AzureProvider
import Foundation
import ProviderClient
import SecretsStoreAPI

/// What the controller asks a provider for: one SecretProviderClass, as one SecretSync's service account.
public struct FetchRequest: Sendable {
    public var secretProviderClass: SecretProviderClass
    public var namespace: String
    public var serviceAccountName: String
    /// `csi.storage.k8s.io/serviceAccount.tokens` JSON.
    public var serviceAccountTokens: String
    public var podName: String
    public var podUID: String
    /// File names (object alias or name) the SecretSync references; only these are fetched.
    public var referencedFiles: Set<String>
    /// The oldest shared (cached) result acceptable: zero for a forced or edited sync, nil for a poll.
    public var maxAge: Duration? = nil
}

extension FetchRequest {
    /// The provider's mount attributes: the SPC parameters plus the pod and service-account attributes, as upstream sends them.
    var attributes: [String: String] {
        var attributes = secretProviderClass.spec.parameters ?? [:]
        attributes["csi.storage.k8s.io/pod.name"] = podName
        attributes["csi.storage.k8s.io/pod.uid"] = podUID
        attributes["csi.storage.k8s.io/pod.namespace"] = namespace
        attributes["csi.storage.k8s.io/serviceAccount.name"] = serviceAccountName
        attributes["csi.storage.k8s.io/serviceAccount.tokens"] = serviceAccountTokens
        attributes["secretProviderClass"] = secretProviderClass.metadata.name ?? ""
        return attributes
    }
}

/// What came back: file contents by path (`name`, or `name/N` with version history), object versions, and
/// failures by file name (partial sync keeps going without them).
public struct FetchedObjects: Sendable {
    public var files: [String: [UInt8]] = [:]
    public var versions: [String: String] = [:]
    public var failures: [String: String] = [:]
    /// Nothing was delivered because the vault was unavailable or throttling (feeds the circuit breaker).
    public var vaultUnavailable = false
    /// Validity by object version id (`secret/db`), where the provider knows it (in-process Azure).
    public var validity: [String: ObjectValidity] = [:]
    /// The object version id each file came from, where the provider says (in-process Azure).
    public var fileObjects: [String: String] = [:]
    public init(files: [String: [UInt8]] = [:], versions: [String: String] = [:], failures: [String: String] = [:]) {
        self.files = files; self.versions = versions; self.failures = failures
    }
}

/// A provider the controller can call.
public protocol SecretSource: Sendable {
    func fetch(_ request: FetchRequest) async throws(SyncFailure) -> FetchedObjects
}

/// The Azure provider, in-process: no socket hop, and its cache shares Key Vault reads across SecretSyncs
/// that use the same credential, vault, object and version.
public struct AzureSecretSource: SecretSource {
    public let provider: AzureProvider
    public init(provider: AzureProvider) { self.provider = provider }

    public func fetch(_ request: FetchRequest) async throws(SyncFailure) -> FetchedObjects {
        let spc = request.secretProviderClass
        let name = "\(request.namespace)/\(spc.metadata.name ?? "")"
        guard (spc.spec.provider ?? "") == "azure" else {
            throw SyncFailure(.controllerSPCError, "SecretProviderClass \(name) names provider '\(spc.spec.provider ?? "")'; akvs serves provider 'azure' in-process")
        }
        let attributes = request.attributes
        let partial: PartialMount
        do {
            partial = try await provider.fetchEach(attributes: attributes, secrets: [:], only: request.referencedFiles, maxAge: request.maxAge)
        } catch let error {
            switch error {
            case .parameter, .object: throw SyncFailure(.controllerSPCError, "SecretProviderClass \(name): \(error.description)")
            default: throw SyncFailure(.providerError, error.description)
            }
        }
        var result = FetchedObjects()
        for entry in partial.entries {
            result.files[entry.file.path] = entry.file.contents
            result.versions[entry.version.id] = entry.version.version
            result.fileObjects[entry.file.path] = entry.version.id
        }
        for failure in partial.failures { result.failures[failure.fileName] = failure.failure.description }
        result.validity = partial.validity
        result.vaultUnavailable = partial.entries.isEmpty && partial.failures.contains { $0.failure.transient }
        return result
    }
}

/// Providers other than Azure, called over their `<dir>/<provider>.sock` as the upstream sync controller does;
/// `azure` stays in-process. A socket provider answers all-or-nothing, so partial sync does not apply to it.
public struct ProviderRouter: SecretSource {
    public let azure: AzureSecretSource
    public let sockets: ProviderClients

    public init(azure: AzureSecretSource, sockets: ProviderClients) { self.azure = azure; self.sockets = sockets }

    public func fetch(_ request: FetchRequest) async throws(SyncFailure) -> FetchedObjects {
        let spc = request.secretProviderClass
        let provider = spc.spec.provider ?? ""
        if provider == "azure" { return try await azure.fetch(request) }
        let name = "\(request.namespace)/\(spc.metadata.name ?? "")"
        let attributes = request.attributes
        let reply: ProviderMountResult
        do {
            reply = try await sockets.mount(provider: provider, attributes: attributes, secrets: [:], targetPath: "/mnt/secrets-store")
        } catch {
            if case .invalidName = error { throw SyncFailure(.controllerSPCError, "SecretProviderClass \(name): \(error.description)") }
            throw SyncFailure(.providerError, error.description)
        }
        var result = FetchedObjects()
        for file in reply.files where request.referencedFiles.contains(file.path) { result.files[file.path] = file.contents }
        for version in reply.objectVersions { result.versions[version.id] = version.version }
        for missing in request.referencedFiles where result.files[missing] == nil {
            result.failures[missing] = "provider '\(provider)' returned no file \(missing) (it returned: \(reply.files.map(\.path).sorted().joined(separator: ", ")))"
        }
        return result
    }
}
