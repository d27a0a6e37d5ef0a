import AzureIdentity
import Foundation
import KeyVault
import Logging

/// Turns mount attributes (SPC parameters + pod attributes) into files, fetching from Key Vault.
/// All-or-nothing: any failed object fails the mount, naming every failure.
public struct AzureProvider: Sendable {
    public let session: KeyVaultSession
    public let configuration: ProviderConfiguration
    let cache: ObjectCache
    let credentials: CredentialResolver
    let logger: Logger
    let metrics: any ProviderMetricsRecorder

    public init(session: KeyVaultSession, configuration: ProviderConfiguration = ProviderConfiguration(),
                metrics: any ProviderMetricsRecorder = NoProviderMetrics(), logger: Logger = Logger(label: "akvs.provider")) {
        self.session = session
        self.metrics = metrics
        self.configuration = configuration
        self.cache = ObjectCache(ttl: configuration.objectCacheTTL, capacity: configuration.objectCacheCapacity)
        self.credentials = CredentialResolver(transport: session.transport, configuration: configuration)
        self.logger = logger
    }

    /// The mount attribute by which akvs csi-driver tells the provider the oldest cached result it accepts, in seconds
    /// (its rotation interval, or 0 when a fresh read is due); other drivers do not send it.
    public static let maxObjectAgeAttribute = "akvs.io/max-object-age-seconds"
    /// The volume attribute naming the SecretProviderClass (the driver passes it, as upstream's does).
    public static let secretProviderClassAttribute = "secretProviderClass"
    /// Largest accepted value of `maxObjectAgeAttribute`: a year, far beyond any rotation interval.
    static let maxObjectAgeLimit: Double = 365 * 24 * 3600

    /// Serves one mount. `defaultMode` is the request's permission (0644 from the driver).
    public func mount(attributes: [String: String], secrets: [String: String], defaultMode: Int32 = 0o644) async throws(ProviderError) -> MountResult {
        let maxAge = try Self.maxObjectAge(attributes)
        let partial = try await fetchEach(attributes: attributes, secrets: secrets, defaultMode: defaultMode, maxAge: maxAge)
        if !partial.failures.isEmpty {
            logger.warning("mount failed", metadata: ["pod": "\(partial.podNamespace)/\(partial.podName)", "vault": "\(partial.vault)", "failed": "\(partial.failures.count)"])
            throw .fetch(partial.failures.map(\.failure))
        }
        return MountResult(entries: partial.entries, validity: partial.validity, missingOptional: partial.missingOptional)
    }

    /// Fetches each object on its own, so that one failure does not stop the others (SecretSync partial sync).
    /// `only` keeps the objects whose file name (alias or name) is listed: a SecretSync fetches what it references.
    /// Parameter and identity errors still throw: then nothing could be fetched.
    /// `maxAge` bounds the age of shared results for this call (zero reads the vault; nil takes `--object-cache-ttl`).
    public func fetchEach(attributes: [String: String], secrets: [String: String], only fileNames: Set<String>? = nil,
                          defaultMode: Int32 = 0o644, maxAge: Duration? = nil) async throws(ProviderError) -> PartialMount {
        var parameters = try MountParameters.parse(attributes)
        if let fileNames { parameters.objects = parameters.objects.filter { fileNames.contains($0.fileName) } }
        let cloud: AzureCloud
        do {
            cloud = try AzureCloud.named(parameters.cloudName.isEmpty ? configuration.defaultCloudName : parameters.cloudName,
                                         environmentFile: parameters.cloudEnvFileName)
        } catch {
            throw .parameter(name: parameters.cloudName.isEmpty ? "cloudName" : (error == .missingEnvironmentFile || parameters.cloudEnvFileName != nil ? "cloudEnvFileName" : "cloudName"),
                             reason: error.description)
        }
        let credential = try credentials.credential(for: parameters, cloud: cloud, secrets: secrets)
        // The caller's own credential must produce a token before any shared result is served to it.
        do { _ = try await session.tokens.token(for: credential, scope: cloud.keyVaultScope) } catch {
            let reason = "failed to get a token for Key Vault \(parameters.keyvaultName): \(error.description)"
            throw error.isTransient ? .identityUnavailable(reason) : .identity(reason)
        }
        let client: KeyVaultClient
        do { client = try await session.client(vault: parameters.keyvaultName, cloud: cloud, credential: credential) } catch {
            throw .parameter(name: "keyvaultName", reason: error.description)
        }
        let fetcher = ObjectFetcher(client: client, cache: cache, identity: credential.identityKey, configuration: configuration, metrics: metrics, maxAge: maxAge)
        let results = await withTaskGroup(of: (Int, Result<ObjectFetcher.Delivered, ObjectFailure>).self) { group in
            for (index, object) in parameters.objects.enumerated() {
                group.addTask { (index, await fetcher.deliver(object, defaultMode: defaultMode)) }
            }
            var collected: [(Int, Result<ObjectFetcher.Delivered, ObjectFailure>)] = []
            for await item in group { collected.append(item) }
            return collected.sorted { $0.0 < $1.0 }
        }
        var partial = PartialMount(vault: parameters.keyvaultName, podName: parameters.podName, podNamespace: parameters.podNamespace)
        let className = attributes[Self.secretProviderClassAttribute] ?? ""
        for (index, result) in results {
            switch result {
            case .success(let delivered):
                if let missing = delivered.missingOptional { partial.missingOptional.append(missing) }
                partial.entries += delivered.files.map { (file: $0.0, version: $0.1) }
                partial.validity.merge(delivered.validity) { $1 }
                // One series per object: its current version (the first of a version history).
                let object = parameters.objects[index]
                let current = "\(object.objectType.rawValue)/\(object.objectName)" + (object.objectVersionHistory > 1 ? "/0" : "")
                if let validity = delivered.validity[current] {
                    metrics.objectValidity(ObjectLabels(vault: parameters.keyvaultName, namespace: parameters.podNamespace, secretProviderClass: className,
                                                        objectType: object.objectType.rawValue, objectName: object.objectName), validity)
                }
            case .failure(let failure): partial.failures.append((fileName: parameters.objects[index].fileName, failure: failure))
            }
        }
        return partial
    }

    static func maxObjectAge(_ attributes: [String: String]) throws(ProviderError) -> Duration? {
        guard let raw = attributes[maxObjectAgeAttribute]?.trimmingCharacters(in: .whitespaces), !raw.isEmpty else { return nil }
        // Bounded before converting: 1e300 is finite but would trap the conversion to Int64 milliseconds.
        guard let seconds = Double(raw), seconds >= 0, seconds <= maxObjectAgeLimit else {
            throw .parameter(name: maxObjectAgeAttribute, reason: "'\(raw)' is not a number of seconds from 0 to \(Int(maxObjectAgeLimit))")
        }
        return .milliseconds(Int64(seconds * 1000))
    }

    /// Cache statistics: (hits, misses, entries).
    public func cacheStatistics() async -> (hits: Int, misses: Int, entries: Int) {
        (await cache.hits, await cache.misses, await cache.count)
    }
}
