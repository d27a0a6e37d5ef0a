import ArgumentParser
import Foundation
import Kubernetes
import Logging
import Restarter
import Serving

/// `akvs restarter`: rollout restarts of annotated workloads when their Secrets or mounted object versions change.
struct RestarterCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "restarter",
        abstract: "Restart Deployments, StatefulSets and DaemonSets (Reloader's annotations) once per change of the Secrets or vault objects they use.")

    @Option(help: "kubeconfig file (default: $KUBECONFIG, in-cluster, ~/.kube/config).") var kubeconfig: String?
    @Option(name: .customLong("restart-debounce"), help: "Changes within this window after the first give one restart, e.g. 30s (per workload: akvs.io/restart-debounce).")
    var restartDebounce: String = "30s"
    @Option(name: .customLong("max-concurrent-restarts"), help: "Restarts whose rollouts may run at once, cluster-wide; the rest wait.")
    var maxConcurrentRestarts: Int = 10
    @Flag(name: .customLong("leader-elect"), help: "Elect one active replica through a Lease.") var leaderElect = false
    @Option(name: .customLong("leader-election-namespace"), help: "Namespace of the Lease (default: the client's namespace).") var leaderElectionNamespace: String?
    @Option(name: .customLong("metrics-bind-address"), help: "Address of /metrics.") var metricsBindAddress: String = ":8086"
    @Option(name: .customLong("health-probe-bind-address"), help: "Address of /healthz and /readyz.") var healthProbeBindAddress: String = ":8087"
    @Option(name: .customLong("log-level"), help: "trace, debug, info, notice, warning, error.") var logLevel: String = "info"
    @OptionGroup var role: RoleOptions

    static let leaseName = "akvs-restarter"

    func run() async throws {
        let logger = try role.logger(label: "akvs.restarter", level: logLevel)
        var report = EffectiveConfiguration(role: "restarter")
        let settings = try restarterConfiguration(into: &report)
        let (metrics, health) = try controllerListeners(metrics: metricsBindAddress, health: healthProbeBindAddress, into: &report)
        let found = try kubernetesConfiguration(kubeconfig: kubeconfig, checking: role.checkConfig, into: &report)
        if role.checkConfig { return report.print() }
        guard let kube = found else { return }

        let client = try makeKubernetesClient(kube, logger: logger)
        let restartMetrics = RestartMetrics()
        let listeners: HTTPListeners.Running
        do { listeners = try await ControllerHTTPServer(metrics: metrics, health: health, logger: logger) { restartMetrics.render() }.start() } catch {
            await client.shutdown()
            throw RoleFailure(error)
        }
        let namespace = leaderElectionNamespace ?? kube.namespace
        let leaderElect = self.leaderElect
        let identity = "\(ProcessInfo.processInfo.hostName)-\(UUID().uuidString.prefix(8))"
        print("akvs restarter starting api=\(kube.server.absoluteString) metrics=\(metricsBindAddress) health=\(healthProbeBindAddress) leader-elect=\(leaderElect)")
        fflush(nil)
        do {
            try await serveUntilTerminated(logger: logger) {
                let controller = RestartController(client: client, configuration: settings, metrics: restartMetrics, logger: logger)
                if leaderElect {
                    let elector = LeaderElector(client: client, namespace: namespace, name: Self.leaseName, identity: identity, logger: logger)
                    try await elector.run { await controller.run() }
                } else {
                    await controller.run()
                }
            }
        } catch {
            await listeners.stop()
            await client.shutdown()
            throw RoleFailure(error)
        }
        await listeners.stop()
        await client.shutdown()
        logger.info("akvs restarter stopped")
    }

    func restarterConfiguration(into report: inout EffectiveConfiguration) throws -> RestarterConfiguration {
        guard let debounce = DurationText.parse(restartDebounce), debounce >= .zero else {
            throw ValidationError("--restart-debounce '\(restartDebounce)' must be a duration such as 30s or 2m (0: restart at once)")
        }
        guard maxConcurrentRestarts >= 1 else { throw ValidationError("--max-concurrent-restarts must be at least 1") }
        var settings = RestarterConfiguration()
        settings.debounce = debounce
        settings.maxConcurrentRestarts = maxConcurrentRestarts
        report.add("restart-debounce", "\(debounce)")
        report.add("max-concurrent-restarts", maxConcurrentRestarts)
        report.add("leader-elect", leaderElect ? "on (Lease \(Self.leaseName) in \(leaderElectionNamespace ?? "the client's namespace"))" : "off")
        report.add("log", "\(logLevel)\(role.logFormatJSON ? ", JSON" : "")")
        return settings
    }
}
