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

    @OptionGroup var azure: AzureProviderOptions

    @Option(name: .customLong("log-level"), help: "trace, debug, info, notice, warning, error.")
    var logLevel: String = "info"

    @OptionGroup var role: RoleOptions

    func run() async throws {
        let logger = try role.logger(label: "akvs.provider", level: logLevel)
        var report = EffectiveConfiguration(role: "provider")
        let config = try providerConfiguration(into: &report)
        if role.checkConfig { return report.print() }

        let metrics = PrometheusProviderMetrics()
        let session: KeyVaultSession
        do { session = try KeyVaultSession.make(additionalCAFile: azure.caFile, observer: metrics.vault, logger: logger) } catch { throw RoleFailure(error) }
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
        for (flag, port) in [("--healthz-port", healthzPort), ("--prometheus-port", prometheusPort)] where !(0...65535).contains(port) {
            throw ValidationError("\(flag) \(port) must be a TCP port (0-65535)")
        }
        guard healthzPath.hasPrefix("/") else { throw ValidationError("--healthz-path '\(healthzPath)' must start with /, e.g. /healthz") }
        guard let timeout = SyncControllerCommand.duration(healthzTimeout), timeout > .zero else {
            throw ValidationError("--healthz-timeout '\(healthzTimeout)' must be a positive duration such as 5s")
        }
        let socket: String
        do { socket = try ProviderServer.socketPath(endpoint) } catch { throw ValidationError(error.description) }
        report.add("endpoint", "\(endpoint) (socket \(socket))")
        report.add("healthz", ":\(healthzPort)\(healthzPath) (timeout \(timeout))")
        report.add("metrics", "Prometheus :\(prometheusPort)/metrics")
        let config = try azure.configuration(defaultTTL: .seconds(60), into: &report)
        report.add("log", "\(logLevel)\(role.logFormatJSON ? ", JSON" : "")")
        return config
    }
}
