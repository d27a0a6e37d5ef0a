import ArgumentParser
import CSIDriver
import Foundation
import Kubernetes
import Logging
import AzureProvider
import KeyVault
import ProviderClient
import ProviderServer
import Serving

/// `akvs csi-driver`: drop-in for the Secrets Store CSI driver's node plugin container (upstream flag names).
struct CSIDriverCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "csi-driver",
        abstract: "Serve the CSI node plugin secrets-store.csi.k8s.io: mounts, pod status, Secret sync and rotation.")

    @Option(help: "CSI endpoint, unix:///csi/csi.sock.") var endpoint: String = "unix://tmp/csi.sock"
    @Option(help: "This node's name (kubelet passes spec.nodeName).") var nodeid: String
    @Option(help: "CSI driver name.") var drivername: String = "secrets-store.csi.k8s.io"
    @Option(name: [.customLong("provider-volume"), .customLong("provider-volume-path")], help: "Folder of the provider sockets (<provider>.sock).")
    var providerVolume: String = "/var/run/secrets-store-csi-providers"
    @Option(name: .customLong("additional-provider-volume-paths"), help: "Comma-separated folders searched for provider sockets before --provider-volume.")
    var additionalProviderVolumePaths: String = "/etc/kubernetes/secrets-store-csi-providers"
    @Option(name: .customLong("enable-secret-rotation"), help: "Re-run the provider on kubelet's republish once --rotation-poll-interval has passed.")
    var enableSecretRotation: Bool = false
    @Option(name: .customLong("rotation-poll-interval"), help: "Least time between two provider calls for one volume, e.g. 2m, 120s.")
    var rotationPollInterval: String = "2m"
    @Option(name: .customLong("enable-secret-sync"), help: "Sync SecretProviderClass secretObjects into Kubernetes Secrets (Helm syncSecret.enabled).")
    var enableSecretSync: Bool = true
    @Option(name: .customLong("max-call-recv-msg-size"), help: "Largest provider reply accepted, in bytes.")
    var maxCallRecvMsgSize: Int = 4 * 1024 * 1024
    @Option(name: .customLong("provider-timeout"), help: "Longest a provider Mount call may take, e.g. 60s.")
    var providerTimeout: String = "60s"
    @Option(name: .customLong("expiry-warning"), help: "Warn on a pod's SecretProviderClassPodStatus (an Event, once per object version and day) when a mounted object expires within this long, e.g. 720h; 0 never (in-process Azure provider).")
    var expiryWarning: String = "720h"
    @Option(name: .customLong("serve-stale-on-outage"),
            help: "Cluster default of akvs.io/serve-stale-on-outage: a pod that starts while Key Vault or Entra cannot be reached gets the node's last good content of its volume if younger than this, e.g. 24h; 0 never (upstream's behaviour).")
    var serveStaleOnOutage: String = "0"
    @Option(name: .customLong("stale-store-dir"), help: "Where the last good content is kept: a root-only tmpfs (mounted there unless it is one), never disk; a host path survives driver restarts.")
    var staleStoreDir: String = "/run/akvs-csi/last-good"
    @Option(name: .customLong("stale-store-max-bytes"), help: "The most the last good content may use on this node; the oldest entries go first.")
    var staleStoreMaxBytes: Int = 64 << 20
    @Option(name: .customLong("watch-pods"), help: "Watch this node's pods so akvs.io/refresh-requested-at on a pod refreshes its volumes (RBAC: pods list/watch).")
    var watchPods: Bool = true
    @Option(name: .customLong("metrics-addr"), help: "Address of /metrics.") var metricsAddr: String = ":8095"
    @Option(name: .customLong("health-addr"), help: "Address of the liveness /healthz (calls CSI Probe); off when the livenessprobe sidecar serves it.")
    var healthAddr: String = ":9808"
    @Option(name: .customLong("kubelet-registration-path"),
            help: "Register with kubelet (no node-driver-registrar sidecar): the CSI socket as a path on the node, e.g. /var/lib/kubelet/plugins/csi-secrets-store/csi.sock.")
    var kubeletRegistrationPath: String?
    @Option(name: .customLong("plugin-registration-dir"), help: "kubelet's plugins_registry folder as mounted here; <drivername>-reg.sock is created in it.")
    var pluginRegistrationDir: String = "/registration"
    @Option(name: .customLong("azure-provider"),
            help: "socket: call the Azure provider over <provider folder>/azure.sock (akvs provider or upstream's); in-process: serve provider azure in this process (one process for the node role).")
    var azureProvider: String = "socket"
    @OptionGroup(title: "Azure provider (with --azure-provider in-process)") var azure: AzureProviderOptions
    @Option(help: "kubeconfig file (default: $KUBECONFIG, in-cluster, ~/.kube/config).") var kubeconfig: String?
    @Option(name: .customLong("mount-tmpfs"), help: "Mount a tmpfs at each target (needs root; false only for unprivileged trials).")
    var mountTmpfs: Bool = true
    @Option(name: .customLong("log-level"), help: "trace, debug, info, notice, warning, error.") var logLevel: String = "info"
    @OptionGroup var role: RoleOptions

    func run() async throws {
        let logger = try role.logger(label: "akvs.csi-driver", level: logLevel)
        var report = EffectiveConfiguration(role: "csi-driver")
        let configuration = try driverConfiguration(into: &report)
        let options = try serverOptions(configuration, into: &report)
        let azureConfiguration = try inProcessAzure(configuration, into: &report)
        let kube = try kubernetesConfiguration(kubeconfig: kubeconfig, checking: role.checkConfig, into: &report)
        if role.checkConfig { return report.print() }
        guard let kube else { return }

        var inProcess: [String: any InProcessProvider] = [:]
        var serverOptions = options
        var session: KeyVaultSession?
        if let azureConfiguration {
            let providerMetrics = PrometheusProviderMetrics()
            let made: KeyVaultSession
            do { made = try KeyVaultSession.make(additionalCAFile: azure.caFile, observer: providerMetrics.vault, logger: logger) } catch { throw RoleFailure(error) }
            inProcess["azure"] = InProcessAzureProvider(provider: AzureProvider(session: made, configuration: azureConfiguration, metrics: providerMetrics, logger: logger))
            serverOptions.additionalMetrics = { providerMetrics.render() }
            session = made
        }

        let client = try makeKubernetesClient(kube, logger: logger)
        let driverMetrics = DriverMetrics()
        let publisher = NodePublisher(configuration: configuration, client: client,
                                      providers: ProviderClients(searchPaths: configuration.additionalProviderVolumePaths + [configuration.providerVolumePath],
                                                                 maxMessageBytes: configuration.maxCallRecvMessageSize, timeout: configuration.providerTimeout, logger: logger),
                                      inProcess: inProcess, metrics: driverMetrics, logger: logger)
        let server = CSIDriverServer(options: serverOptions, publisher: publisher, metrics: driverMetrics, logger: logger)
        let summary = "akvs csi-driver ready \(endpoint) node=\(configuration.nodeID) metrics=\(metricsAddr) health=\(options.health?.description ?? "off") "
            + "registration=\(options.registration?.socketPath ?? "off") azure-provider=\(azureProvider) rotation=\(configuration.enableSecretRotation)"
        do {
            try await serveUntilTerminated(logger: logger) { try await server.run(ready: { print(summary); fflush(nil) }) }
        } catch {
            await client.shutdown()
            try? await session?.shutdown()
            throw RoleFailure(error)
        }
        await client.shutdown()
        try? await session?.shutdown()
        logger.info("akvs csi-driver stopped")
    }

    func driverConfiguration(into report: inout EffectiveConfiguration) throws -> DriverConfiguration {
        guard let interval = SyncControllerCommand.duration(rotationPollInterval), interval > .zero else {
            throw ValidationError("--rotation-poll-interval '\(rotationPollInterval)' must be a positive duration such as 2m or 120s")
        }
        guard let timeout = SyncControllerCommand.duration(providerTimeout), timeout > .zero else {
            throw ValidationError("--provider-timeout '\(providerTimeout)' must be a positive duration such as 60s")
        }
        guard maxCallRecvMsgSize > 0 else { throw ValidationError("--max-call-recv-msg-size must be a positive number of bytes") }
        guard !nodeid.isEmpty else { throw ValidationError("--nodeid is required (the node's name)") }
        guard !drivername.isEmpty else { throw ValidationError("--drivername must not be empty") }
        var configuration = DriverConfiguration(nodeID: nodeid, version: AKVS.configuration.version)
        configuration.driverName = drivername
        configuration.providerVolumePath = providerVolume
        configuration.additionalProviderVolumePaths = additionalProviderVolumePaths.split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) }.filter { !$0.isEmpty }
        for path in [providerVolume] + configuration.additionalProviderVolumePaths where !path.hasPrefix("/") {
            throw ValidationError("provider folder '\(path)' (--provider-volume / --additional-provider-volume-paths) must be an absolute path")
        }
        configuration.enableSecretRotation = enableSecretRotation
        configuration.rotationPollInterval = interval
        configuration.syncSecrets = enableSecretSync
        configuration.maxCallRecvMessageSize = maxCallRecvMsgSize
        configuration.providerTimeout = timeout
        configuration.mountTmpfs = mountTmpfs
        guard let warning = SyncControllerCommand.duration(expiryWarning), warning >= .zero else {
            throw ValidationError("--expiry-warning '\(expiryWarning)' must be a duration such as 720h (30 days) or 0 to never warn")
        }
        configuration.expiryWarning = warning
        guard let stale = SyncControllerCommand.duration(serveStaleOnOutage), stale >= .zero else {
            throw ValidationError("--serve-stale-on-outage '\(serveStaleOnOutage)' must be a duration such as 24h, or 0 to never serve stale content")
        }
        guard staleStoreDir.hasPrefix("/"), staleStoreDir.count > 1 else {
            throw ValidationError("--stale-store-dir '\(staleStoreDir)' must be an absolute folder, e.g. /run/akvs-csi/last-good (a host path on a tmpfs)")
        }
        guard staleStoreMaxBytes > 0 else { throw ValidationError("--stale-store-max-bytes must be a positive number of bytes, e.g. 67108864") }
        configuration.serveStaleOnOutage = stale
        configuration.staleStoreDirectory = staleStoreDir
        configuration.staleStoreMaxBytes = staleStoreMaxBytes
        configuration.watchPods = watchPods
        report.add("nodeid", nodeid)
        report.add("drivername", drivername)
        report.add("provider folders", (configuration.additionalProviderVolumePaths + [providerVolume]).joined(separator: ", "))
        report.add("enable-secret-rotation", enableSecretRotation)
        report.add("rotation-poll-interval", "\(interval)")
        report.add("enable-secret-sync", enableSecretSync)
        report.add("max-call-recv-msg-size", maxCallRecvMsgSize)
        report.add("provider-timeout", "\(timeout)")
        report.add("mount-tmpfs", mountTmpfs)
        report.add("expiry-warning", warning == .zero ? "off" : "\(warning)")
        report.add("serve-stale-on-outage", stale == .zero ? "off (classes may set akvs.io/serve-stale-on-outage)" : "\(stale)")
        report.add("stale-store", "\(staleStoreDir), at most \(staleStoreMaxBytes) bytes")
        report.add("watch-pods", watchPods)
        report.add("log", "\(logLevel)\(role.logFormatJSON ? ", JSON" : "")")
        return configuration
    }

    /// The in-process Azure provider's configuration, or nil when provider azure is called over its socket.
    func inProcessAzure(_ configuration: DriverConfiguration, into report: inout EffectiveConfiguration) throws -> ProviderConfiguration? {
        switch azureProvider {
        case "socket":
            guard !azure.anyGiven else {
                throw ValidationError("--construct-pem-chain, --write-cert-and-key-in-separate-files, --cloud-name, --object-cache-ttl, --ca-file and --imds-endpoint "
                                      + "configure the in-process provider: add --azure-provider in-process, or give them to akvs provider")
            }
            report.add("azure-provider", "socket (<provider folder>/azure.sock)")
            return nil
        case "in-process":
            report.add("azure-provider", "in-process (no provider socket for azure; other providers over their sockets)")
            // Shared results live one rotation interval by default: a rotation never reads older data.
            return try azure.configuration(defaultTTL: configuration.rotationPollInterval, into: &report)
        default:
            throw ValidationError("--azure-provider '\(azureProvider)' must be socket or in-process")
        }
    }

    func serverOptions(_ configuration: DriverConfiguration, into report: inout EffectiveConfiguration) throws -> CSIDriverServer.Options {
        let socket: String
        do { socket = try CSIDriverServer.socketPath(endpoint) } catch { throw ValidationError(error.description) }
        let metrics = try listenAddress(metricsAddr, flag: "--metrics-addr")
        let health = ["", "off"].contains(healthAddr) ? nil : try listenAddress(healthAddr, flag: "--health-addr")
        var registration: KubeletRegistration.Options?
        if let path = kubeletRegistrationPath {
            guard path.hasPrefix("/"), path.count > 1 else {
                throw ValidationError("--kubelet-registration-path '\(path)' must be the absolute path of the CSI socket on the node, e.g. /var/lib/kubelet/plugins/csi-secrets-store/csi.sock")
            }
            guard pluginRegistrationDir.hasPrefix("/") else {
                throw ValidationError("--plugin-registration-dir '\(pluginRegistrationDir)' must be an absolute path (kubelet's plugins_registry as mounted, e.g. /registration)")
            }
            registration = KubeletRegistration.Options(driverName: configuration.driverName, kubeletEndpoint: path, registrationDirectory: pluginRegistrationDir)
        }
        report.add("endpoint", "\(endpoint) (socket \(socket))")
        report.add("metrics-addr", metrics)
        report.add("health-addr", health.map(\.description) ?? "off (served by the livenessprobe sidecar)")
        report.add("kubelet registration", registration.map { "built in: \($0.socketPath) -> \($0.kubeletEndpoint)" } ?? "off (node-driver-registrar sidecar)")
        return CSIDriverServer.Options(endpoint: endpoint, metrics: metrics, health: health, registration: registration)
    }
}
