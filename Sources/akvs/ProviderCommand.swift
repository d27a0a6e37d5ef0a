import ArgumentParser
import AzureProvider
import Foundation
import KeyVault
import Logging
import ProviderServer

/// `akvs provider`: drop-in for the Azure provider DaemonSet container (upstream flag names).
struct ProviderCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "provider",
        abstract: "Serve v1alpha1.CSIDriverProvider (Azure Key Vault) on a unix socket for the Secrets Store CSI driver."
    )

    @Option(help: "gRPC endpoint, unix:///path/azure.sock.")
    var endpoint: String = "unix:///tmp/azure.sock"

    @Option(name: .customLong("healthz-port"), help: "Port of the HTTP health endpoint.")
    var healthzPort: Int = 8989

    @Option(name: .customLong("healthz-path"), help: "Path of the HTTP health endpoint.")
    var healthzPath: String = "/healthz"

    @Option(name: .customLong("healthz-timeout"), help: "Timeout of the health check's gRPC call (e.g. 5s).")
    var healthzTimeout: String = "5s"

    @Option(name: .customLong("metrics-backend"), help: "Metrics backend (Prometheus).")
    var metricsBackend: String = "Prometheus"

    @Option(name: .customLong("prometheus-port"), help: "Port of the Prometheus /metrics endpoint.")
    var prometheusPort: Int = 8898

    @Option(name: .customLong("construct-pem-chain"), help: "Order certificate chains leaf to root.")
    var constructPEMChain: Bool = true

    @Option(name: .customLong("write-cert-and-key-in-separate-files"), help: "Also write <file>.crt and <file>.key for certificates.")
    var writeCertAndKeyInSeparateFiles: Bool = false

    @Option(name: .customLong("cloud-name"), help: "Cloud used when an SPC sets no cloudName.")
    var cloudName: String = "AzurePublicCloud"

    @Option(name: .customLong("object-cache-ttl"), help: "Seconds a fetched object is shared with other mounts of the same identity (0 disables).")
    var objectCacheTTL: Int = 60

    @Option(name: .customLong("ca-file"), help: "Extra CA bundle to trust (e.g. the emulator's ca.pem).")
    var caFile: String?

    @Option(name: .customLong("imds-endpoint"), help: "IMDS base URL for useVMManagedIdentity (default: AZURE_POD_IDENTITY_AUTHORITY_HOST or 169.254.169.254).")
    var imdsEndpoint: String?

    @Option(name: .customLong("log-level"), help: "trace, debug, info, notice, warning, error.")
    var logLevel: String = "info"

    func run() async throws {
        guard metricsBackend.lowercased() == "prometheus" else { throw ValidationError("--metrics-backend '\(metricsBackend)' is not supported; use Prometheus") }
        guard objectCacheTTL >= 0 else { throw ValidationError("--object-cache-ttl must be 0 or more seconds") }
        _ = try ProviderServer.socketPath(endpoint)
        var logger = Logger(label: "akvs.provider")
        logger.logLevel = Logger.Level(rawValue: logLevel) ?? .info
        var config = ProviderConfiguration(defaultCloudName: cloudName, constructPEMChain: constructPEMChain,
                                           writeCertAndKeyInSeparateFiles: writeCertAndKeyInSeparateFiles, objectCacheTTL: .seconds(objectCacheTTL))
        if let imds = imdsEndpoint {
            guard let url = URL(string: imds), url.scheme != nil else { throw ValidationError("--imds-endpoint '\(imds)' must be a URL such as http://169.254.169.254") }
            config.imdsEndpoint = url
        }
        let session = try KeyVaultSession.make(additionalCAFile: caFile)
        let metrics = PrometheusProviderMetrics()
        let provider = AzureProvider(session: session, configuration: config, metrics: metrics, logger: logger)
        let server = ProviderServer(options: .init(endpoint: endpoint, healthzPort: healthzPort, healthzPath: healthzPath,
                                                   metricsPort: prometheusPort, version: AKVS.configuration.version),
                                    provider: provider, metrics: metrics, logger: logger)
        // Runs until SIGINT/SIGTERM; a server that cannot start ends the command with its error.
        do {
            try await serve(server)
        } catch {
            try? await session.shutdown()
            throw ValidationError("\(error)")
        }
        try? await session.shutdown()
    }

    func serve(_ server: ProviderServer) async throws {
        let endpoint = self.endpoint
        let healthzPort = self.healthzPort, prometheusPort = self.prometheusPort
        try await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask {
                try await server.run(ready: {
                    print("akvs provider ready \(endpoint) healthz=:\(healthzPort) metrics=:\(prometheusPort)")
                    fflush(nil)
                })
            }
            group.addTask { await waitForTermination() }
            try await group.next()
            group.cancelAll()
        }
    }
}
