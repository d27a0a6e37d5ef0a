import ArgumentParser
import AzureProvider
import Foundation
import KeyVault
import Logging
import ProviderServer
import AzureIdentity

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

    @OptionGroup var role: RoleOptions

    func run() async throws {
        let logger = try role.logger(label: "akvs.provider", level: logLevel)
        var report = EffectiveConfiguration(role: "provider")
        let config = try providerConfiguration(into: &report)
        if role.checkConfig { return report.print() }

        let session: KeyVaultSession
        do { session = try KeyVaultSession.make(additionalCAFile: caFile) } catch { throw RoleFailure(error) }
        let metrics = PrometheusProviderMetrics()
        let provider = AzureProvider(session: session, configuration: config, metrics: metrics, logger: logger)
        let server = ProviderServer(options: .init(endpoint: endpoint, healthzPort: healthzPort, healthzPath: healthzPath,
                                                   metricsPort: prometheusPort, version: AKVS.configuration.version),
                                    provider: provider, metrics: metrics, logger: logger)
        let ready = "akvs provider ready \(endpoint) healthz=:\(healthzPort) metrics=:\(prometheusPort)"
        // Runs until SIGINT/SIGTERM; a server that cannot start ends the command with its error.
        do {
            try await serveUntilTerminated(logger: logger) { try await server.run(ready: { print(ready); fflush(nil) }) }
        } catch {
            try? await session.shutdown()
            throw RoleFailure(error)
        }
        try? await session.shutdown()
        logger.info("akvs provider stopped")
    }

    func providerConfiguration(into report: inout EffectiveConfiguration) throws -> ProviderConfiguration {
        guard metricsBackend.lowercased() == "prometheus" else { throw ValidationError("--metrics-backend '\(metricsBackend)' is not supported; use Prometheus") }
        guard objectCacheTTL >= 0 else { throw ValidationError("--object-cache-ttl must be 0 or more seconds") }
        for (flag, port) in [("--healthz-port", healthzPort), ("--prometheus-port", prometheusPort)] where !(0...65535).contains(port) {
            throw ValidationError("\(flag) \(port) must be a TCP port (0-65535)")
        }
        guard healthzPath.hasPrefix("/") else { throw ValidationError("--healthz-path '\(healthzPath)' must start with /, e.g. /healthz") }
        guard let timeout = SyncControllerCommand.duration(healthzTimeout), timeout > .zero else {
            throw ValidationError("--healthz-timeout '\(healthzTimeout)' must be a positive duration such as 5s")
        }
        let socket: String
        do { socket = try ProviderServer.socketPath(endpoint) } catch { throw ValidationError(error.description) }
        do { _ = try AzureCloud.named(cloudName) } catch {
            // AzureStackCloud is valid here: its endpoints come from each SPC's cloudEnvFileName.
            if case .unknownCloud = error {
                throw ValidationError("--cloud-name '\(cloudName)' is not a known cloud; use AzurePublicCloud, AzureUSGovernmentCloud, AzureChinaCloud or AzureStackCloud")
            }
        }
        try checkCAFile(caFile)
        var config = ProviderConfiguration(defaultCloudName: cloudName, constructPEMChain: constructPEMChain,
                                           writeCertAndKeyInSeparateFiles: writeCertAndKeyInSeparateFiles, objectCacheTTL: .seconds(objectCacheTTL))
        if let imds = imdsEndpoint {
            guard let url = URL(string: imds), url.scheme == "http" || url.scheme == "https", url.host != nil else {
                throw ValidationError("--imds-endpoint '\(imds)' must be a URL such as http://169.254.169.254")
            }
            config.imdsEndpoint = url
        }
        report.add("endpoint", "\(endpoint) (socket \(socket))")
        report.add("healthz", ":\(healthzPort)\(healthzPath) (timeout \(timeout))")
        report.add("metrics", "Prometheus :\(prometheusPort)/metrics")
        report.add("construct-pem-chain", constructPEMChain)
        report.add("write-cert-and-key-in-separate-files", writeCertAndKeyInSeparateFiles)
        report.add("cloud-name", cloudName)
        report.add("object-cache-ttl", "\(objectCacheTTL)s")
        report.add("ca-file", caFile ?? "none (system trust store)")
        report.add("imds-endpoint", imdsEndpoint ?? "default (AZURE_POD_IDENTITY_AUTHORITY_HOST or 169.254.169.254)")
        report.add("log", "\(logLevel)\(role.logFormatJSON ? ", JSON" : "")")
        return config
    }
}
