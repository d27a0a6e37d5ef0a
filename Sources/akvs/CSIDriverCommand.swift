import ArgumentParser
import CSIDriver
import Foundation
import Kubernetes
import Logging
import ProviderClient

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
    @Option(name: .customLong("metrics-addr"), help: "Address of /metrics.") var metricsAddr: String = ":8095"
    @Option(name: .customLong("health-addr"), help: "Address of the liveness /healthz (calls CSI Probe).") var healthAddr: String = ":9808"
    @Option(help: "kubeconfig file (default: $KUBECONFIG, in-cluster, ~/.kube/config).") var kubeconfig: String?
    @Option(name: .customLong("mount-tmpfs"), help: "Mount a tmpfs at each target (needs root; false only for unprivileged trials).")
    var mountTmpfs: Bool = true
    @Option(name: .customLong("log-level"), help: "trace, debug, info, notice, warning, error.") var logLevel: String = "info"

    func run() async throws {
        guard let interval = SyncControllerCommand.duration(rotationPollInterval), interval > .zero else {
            throw ValidationError("--rotation-poll-interval '\(rotationPollInterval)' must be a positive duration such as 2m or 120s")
        }
        guard let timeout = SyncControllerCommand.duration(providerTimeout), timeout > .zero else {
            throw ValidationError("--provider-timeout '\(providerTimeout)' must be a positive duration such as 60s")
        }
        guard maxCallRecvMsgSize > 0 else { throw ValidationError("--max-call-recv-msg-size must be a positive number of bytes") }
        guard !nodeid.isEmpty else { throw ValidationError("--nodeid is required (the node's name)") }
        do { _ = try CSIDriverServer.socketPath(endpoint) } catch { throw ValidationError("\(error)") }
        let metrics = try SyncControllerCommand.address(metricsAddr, flag: "--metrics-addr")
        let health = try SyncControllerCommand.address(healthAddr, flag: "--health-addr")
        var log = Logger(label: "akvs.csi-driver")
        log.logLevel = Logger.Level(rawValue: logLevel) ?? .info
        let logger = log

        var configuration = DriverConfiguration(nodeID: nodeid, version: AKVS.configuration.version)
        configuration.driverName = drivername
        configuration.providerVolumePath = providerVolume
        configuration.additionalProviderVolumePaths = additionalProviderVolumePaths.split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) }.filter { !$0.isEmpty }
        configuration.enableSecretRotation = enableSecretRotation
        configuration.rotationPollInterval = interval
        configuration.syncSecrets = enableSecretSync
        configuration.maxCallRecvMessageSize = maxCallRecvMsgSize
        configuration.providerTimeout = timeout
        configuration.mountTmpfs = mountTmpfs

        let kube: KubernetesConfiguration
        do {
            kube = try kubeconfig.map { try KubernetesConfiguration.kubeconfig(path: $0) } ?? KubernetesConfiguration.load()
        } catch { throw ValidationError("\(error)") }
        let client = try KubernetesClient(configuration: kube, logger: logger)
        let driverMetrics = DriverMetrics()
        let publisher = NodePublisher(configuration: configuration, client: client, providers: ProviderClients(searchPaths: configuration.additionalProviderVolumePaths + [configuration.providerVolumePath],
                                                                 maxMessageBytes: configuration.maxCallRecvMessageSize, timeout: configuration.providerTimeout, logger: logger),
                                      metrics: driverMetrics, logger: logger)
        let server = CSIDriverServer(options: .init(endpoint: endpoint, metricsHost: metrics.host, metricsPort: metrics.port,
                                                    healthHost: health.host, healthPort: health.port),
                                     publisher: publisher, metrics: driverMetrics, logger: logger)
        let endpoint = self.endpoint, metricsAddr = self.metricsAddr, healthAddr = self.healthAddr
        let nodeID = configuration.nodeID, rotation = configuration.enableSecretRotation
        do {
            try await withThrowingTaskGroup(of: Void.self) { group in
                group.addTask {
                    try await server.run(ready: {
                        print("akvs csi-driver ready \(endpoint) node=\(nodeID) metrics=\(metricsAddr) health=\(healthAddr) rotation=\(rotation)")
                        fflush(nil)
                    })
                }
                group.addTask { await waitForTermination() }
                try await group.next()
                group.cancelAll()
            }
        } catch {
            await client.shutdown()
            throw ValidationError("\(error)")
        }
        await client.shutdown()
    }
}
