import ArgumentParser
import AzureProvider
import Foundation
import KeyVault
import Kubernetes
import Logging
import ProviderClient
import Serving
import SyncController

/// `akvs sync-controller`: SecretSync → Kubernetes Secret (upstream flag names, SSE settings).
struct SyncControllerCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "sync-controller",
        abstract: "Sync Key Vault objects into Kubernetes Secrets from SecretSync resources (Secret Store extension role).")

    @Option(help: "kubeconfig file (default: $KUBECONFIG, in-cluster, ~/.kube/config).") var kubeconfig: String?
    @Option(name: .customLong("rotation-poll-interval"), help: "How often each SecretSync is refreshed, e.g. 1h, 3600s (SSE rotationPollIntervalInSeconds).")
    var rotationPollInterval: String = "1h"
    @Option(name: .customLong("jitter-seconds"), help: "Spread each SecretSync's refresh over interval + 0..jitter seconds, fixed per SecretSync.")
    var jitterSeconds: Int = 0
    @Option(name: .customLong("enable-partial-secret-sync"), help: "Update the items that fetched and keep the others (true), or all-or-nothing (false).")
    var enablePartialSecretSync: Bool = true
    @Option(name: .customLong("token-request-audience"), help: "Audience of the service-account tokens sent to the provider.")
    var tokenRequestAudience: String = "api://AzureADTokenExchange"
    @Flag(name: .customLong("leader-elect"), help: "Elect one active replica through a Lease.") var leaderElect = false
    @Option(name: .customLong("leader-election-namespace"), help: "Namespace of the Lease (default: the client's namespace).") var leaderElectionNamespace: String?
    @Option(name: .customLong("metrics-bind-address"), help: "Address of /metrics.") var metricsBindAddress: String = ":8085"
    @Option(name: .customLong("health-probe-bind-address"), help: "Address of /healthz and /readyz.") var healthProbeBindAddress: String = ":8081"
    @Option(help: "Concurrent reconciles.") var workers: Int = 4
    @Option(name: .customLong("expiry-warning"), help: "Warn on a SecretSync (an Event, once per object version and day) when an object it uses expires within this long, e.g. 720h; 0 never.")
    var expiryWarning: String = "720h"
    @Flag(name: .customLong("enable-drift-repair"), help: "Restore managed Secrets edited or deleted outside akvs (needs list/watch on Secrets).")
    var enableDriftRepair = false
    @Option(name: .customLong("object-cache-ttl"), help: "Seconds a fetched object is shared between SecretSyncs with the same identity.")
    var objectCacheTTL: Int = 60
    @Option(name: .customLong("vault-requests-per-second"), help: "Request budget per vault (Key Vault allows about 400/s per vault; 0 = no budget).")
    var vaultRequestsPerSecond: Double = 300
    @Option(name: .customLong("ca-file"), help: "Extra CA bundle to trust for Azure endpoints (e.g. the emulator's ca.pem).") var caFile: String?
    @Option(name: .customLong("provider-volume"), help: "Folder of <provider>.sock for providers other than azure (azure runs in-process).")
    var providerVolume: String = "/provider"
    @Option(name: .customLong("max-call-recv-msg-size"), help: "Largest provider reply accepted, in bytes.") var maxCallRecvMsgSize: Int = 4 * 1024 * 1024
    @Option(name: .customLong("log-level"), help: "trace, debug, info, notice, warning, error.") var logLevel: String = "info"
    @OptionGroup var role: RoleOptions

    func run() async throws {
        let logger = try role.logger(label: "akvs.sync-controller", level: logLevel)
        var report = EffectiveConfiguration(role: "sync-controller")
        let settings = try syncConfiguration(into: &report)
        let (metrics, health) = try controllerListeners(metrics: metricsBindAddress, health: healthProbeBindAddress, into: &report)
        let found = try kubernetesConfiguration(kubeconfig: kubeconfig, checking: role.checkConfig, into: &report)
        if role.checkConfig { return report.print() }
        guard let kube = found else { return }

        let client = try makeKubernetesClient(kube, logger: logger)
        let limiters = VaultLimiters(requestsPerSecond: vaultRequestsPerSecond > 0 ? vaultRequestsPerSecond : nil,
                                     burst: vaultRequestsPerSecond > 0 ? Int(vaultRequestsPerSecond) : nil)
        let statistics = SyncStatistics()
        // A validity series outlives two polls, so a slow poll never drops one that is still in use.
        let vaultMetrics = VaultMetrics(registry: statistics.registry, retention: max(.seconds(24 * 3600), settings.pollInterval * 2))
        let session: KeyVaultSession
        do { session = try KeyVaultSession.make(additionalCAFile: caFile, limiters: limiters, observer: vaultMetrics, logger: logger) } catch { throw RoleFailure(error) }
        let provider = AzureProvider(session: session, configuration: ProviderConfiguration(objectCacheTTL: Self.cacheLifetime(objectCacheTTL, poll: settings.pollInterval)),
                                     metrics: vaultMetrics, logger: logger)
        let controllerNamespace = leaderElectionNamespace ?? kube.namespace
        let configuration = settings
        let http = SyncHTTPServer(metrics: metrics, health: health, statistics: statistics, logger: logger)
        let leaderElect = self.leaderElect
        let providerVolume = self.providerVolume, maxCallRecvMsgSize = self.maxCallRecvMsgSize
        let identity = "\(ProcessInfo.processInfo.hostName)-\(UUID().uuidString.prefix(8))"
        let listeners: HTTPListeners.Running
        do { listeners = try await http.start() } catch {
            await client.shutdown()
            try? await session.shutdown()
            throw RoleFailure(error)
        }
        print("akvs sync-controller starting api=\(kube.server.absoluteString) metrics=\(metricsBindAddress) health=\(healthProbeBindAddress) leader-elect=\(leaderElect)")
        fflush(nil)
        do {
            try await serveUntilTerminated(logger: logger) {
                let key = try await HashKeyStore.loadOrCreate(client: client, namespace: controllerNamespace)
                let sockets = ProviderClients(searchPaths: [providerVolume], maxMessageBytes: maxCallRecvMsgSize, logger: logger)
                var made = SyncController(client: client, source: ProviderRouter(azure: AzureSecretSource(provider: provider), sockets: sockets), configuration: configuration,
                                          hashKey: key, statistics: statistics, logger: logger)
                made.vaultLimiters = limiters
                let controller = made
                if leaderElect {
                    // Lease name as upstream's controller-runtime leader election ID.
                    let elector = LeaderElector(client: client, namespace: controllerNamespace, name: "29f1d54e.secret-sync.x-k8s.io", identity: identity, logger: logger)
                    try await elector.run { await controller.run() }
                } else {
                    await controller.run()
                }
            }
        } catch {
            await listeners.stop()
            await client.shutdown()
            try? await session.shutdown()
            throw RoleFailure(error)
        }
        await listeners.stop()
        await client.shutdown()
        try? await session.shutdown()
        logger.info("akvs sync-controller stopped")
    }

    func syncConfiguration(into report: inout EffectiveConfiguration) throws -> SyncConfiguration {
        guard let interval = Self.duration(rotationPollInterval), interval > .zero else {
            throw ValidationError("--rotation-poll-interval '\(rotationPollInterval)' must be a positive duration such as 1h, 30m or 3600s")
        }
        guard jitterSeconds >= 0 else { throw ValidationError("--jitter-seconds must be 0 or more") }
        guard workers > 0 else { throw ValidationError("--workers must be at least 1") }
        guard objectCacheTTL >= 0 else { throw ValidationError("--object-cache-ttl must be 0 or more seconds") }
        guard vaultRequestsPerSecond >= 0 else { throw ValidationError("--vault-requests-per-second must be 0 or more") }
        guard maxCallRecvMsgSize > 0 else { throw ValidationError("--max-call-recv-msg-size must be a positive number of bytes") }
        guard providerVolume.hasPrefix("/") else { throw ValidationError("--provider-volume '\(providerVolume)' must be an absolute path") }
        let audiences = tokenRequestAudience.split(separator: ",", omittingEmptySubsequences: false).map { $0.trimmingCharacters(in: .whitespaces) }
        guard !audiences.isEmpty, !audiences.contains(where: \.isEmpty) else {
            throw ValidationError("--token-request-audience '\(tokenRequestAudience)' must name one audience or a comma-separated list, e.g. api://AzureADTokenExchange")
        }
        try checkCAFile(caFile)
        var settings = SyncConfiguration(pollInterval: interval, jitterSeconds: jitterSeconds, enablePartialSecretSync: enablePartialSecretSync,
                                         tokenAudience: tokenRequestAudience, workers: workers)
        settings.driftRepair = enableDriftRepair
        guard let warning = Self.duration(expiryWarning), warning >= .zero else {
            throw ValidationError("--expiry-warning '\(expiryWarning)' must be a duration such as 720h (30 days) or 0 to never warn")
        }
        settings.expiryWarning = warning
        report.add("expiry-warning", warning == .zero ? "off" : "\(warning)")
        report.add("rotation-poll-interval", "\(interval)")
        report.add("jitter-seconds", jitterSeconds)
        report.add("enable-partial-secret-sync", enablePartialSecretSync)
        report.add("token-request-audience", tokenRequestAudience)
        report.add("leader-elect", leaderElect ? "on (Lease 29f1d54e.secret-sync.x-k8s.io in \(leaderElectionNamespace ?? "the client's namespace"))" : "off")
        report.add("workers", workers)
        report.add("enable-drift-repair", enableDriftRepair)
        report.add("object-cache-ttl", "\(Self.cacheLifetime(objectCacheTTL, poll: interval)) (at most the poll interval; forced and edited syncs read the vault)")
        report.add("vault-requests-per-second", vaultRequestsPerSecond > 0 ? "\(vaultRequestsPerSecond)" : "no budget")
        report.add("ca-file", caFile ?? "none (system trust store)")
        report.add("provider-volume", "\(providerVolume) (azure runs in-process)")
        report.add("max-call-recv-msg-size", maxCallRecvMsgSize)
        report.add("log", "\(logLevel)\(role.logFormatJSON ? ", JSON" : "")")
        return settings
    }

    /// Shared results never outlive one poll interval, so a poll always sees what the vault held at most one interval ago.
    static func cacheLifetime(_ seconds: Int, poll: Duration) -> Duration { min(.seconds(seconds), poll) }

    /// `1h`, `30m`, `45s`, `1h30m` or plain seconds.
    static func duration(_ text: String) -> Duration? { DurationText.parse(text) }
}
