import Foundation
import SecretsStoreAPI

/// Controller settings; names follow the Secret Store extension and the upstream controller.
public struct SyncConfiguration: Sendable {
    /// `rotationPollIntervalInSeconds` (SSE default 3600).
    public var pollInterval: Duration
    /// `jitterSeconds`: each SecretSync's refresh is spread over `[interval, interval + jitter]`, fixed per UID.
    public var jitterSeconds: Int
    /// `enablePartialSecretSync` (SSE default true): objects that fetched update, the others keep their last values.
    public var enablePartialSecretSync: Bool
    /// `--token-request-audience`.
    public var tokenAudience: String
    /// Field manager of the Secret writes (create and patch).
    public var fieldManager: String
    /// Concurrent reconciles.
    public var workers: Int
    /// Reported to providers as the pod attributes (upstream: the controller pod).
    public var podName: String
    public var podUID: String
    /// Events: reporting controller and instance.
    public var controllerName: String
    public var instance: String
    /// Drift repair (opt-in: needs list/watch on Secrets): a managed Secret that is edited or deleted is restored
    /// from the last written data without calling the vault.
    public var driftRepair = false
    /// Extra parameters for SecretProviderClasses generated from AKVSyncs (e.g. `cloudName`/`cloudEnvFileName` offline).
    public var generatedSPCParameters: [String: String] = [:]
    /// After this many consecutive reconciles that found a vault unavailable or throttling, calls to it pause.
    public var circuitBreakerThreshold = 5
    /// First pause; doubles while the vault stays down (at most 5 minutes), with full jitter so recovery is spread.
    public var circuitBreakerCooldown: Duration = .seconds(30)
    /// A Warning on the SecretSync when an object it uses expires within this long (once per object version and day); zero: never.
    public var expiryWarning: Duration = .seconds(30 * 86400)

    public init(pollInterval: Duration = .seconds(3600), jitterSeconds: Int = 0, enablePartialSecretSync: Bool = true,
                tokenAudience: String = "api://AzureADTokenExchange", fieldManager: String = "secrets-store-sync-controller",
                workers: Int = 4, podName: String = ProcessInfo.processInfo.environment["SYNC_CONTROLLER_POD_NAME"] ?? "akvs-sync-controller",
                podUID: String = ProcessInfo.processInfo.environment["SYNC_CONTROLLER_POD_UID"] ?? "",
                controllerName: String = "secret-sync.x-k8s.io/akvs", instance: String = ProcessInfo.processInfo.hostName) {
        self.pollInterval = pollInterval; self.jitterSeconds = jitterSeconds; self.enablePartialSecretSync = enablePartialSecretSync
        self.tokenAudience = tokenAudience; self.fieldManager = fieldManager; self.workers = workers
        self.podName = podName; self.podUID = podUID; self.controllerName = controllerName; self.instance = instance
    }

    /// When a SecretSync is next due after a sync: the interval plus a jitter fixed by its UID, so refreshes
    /// spread evenly instead of firing together (and stay spread after a restart).
    public func refreshDelay(key: String) -> Duration {
        guard jitterSeconds > 0 else { return pollInterval }
        var hash: UInt64 = 0xcbf2_9ce4_8422_2325
        for byte in key.utf8 { hash = (hash ^ UInt64(byte)) &* 0x100_0000_01b3 }
        return pollInterval + .milliseconds(Int(hash % UInt64(jitterSeconds * 1000)))
    }

    /// What a SecretSync's schedule is spread by: its group (namespace, SecretProviderClass, service account),
    /// so that a group comes due together and is fetched with one provider call, while groups are spread apart.
    public static func scheduleKey(_ sync: SecretSync) -> String {
        "\(sync.metadata.namespace ?? "")/\(sync.spec.secretProviderClassName)/\(sync.spec.serviceAccountName)"
    }

    /// How long a group's fetch result serves members that reconcile after it: a fifth of the interval, at most 10 s.
    public var groupWindow: Duration { min(pollInterval / 5, .seconds(10)) }
}
