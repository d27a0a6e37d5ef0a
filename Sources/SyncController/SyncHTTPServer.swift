import Logging
import Serving

/// `/metrics` (Prometheus) and `/healthz`, `/readyz` for the controller, on the upstream ports (:8085, :8081).
public struct SyncHTTPServer: Sendable {
    public var metrics: ListenAddress
    public var health: ListenAddress
    public let statistics: SyncStatistics
    let logger: Logger

    public init(metrics: ListenAddress = ListenAddress(host: "0.0.0.0", port: 8085), health: ListenAddress = ListenAddress(host: "0.0.0.0", port: 8081),
                statistics: SyncStatistics, logger: Logger) {
        self.metrics = metrics; self.health = health; self.statistics = statistics; self.logger = logger
    }

    /// Returns once both listeners accept connections; stop them with `stop()` on the result.
    public func start() async throws(ServingError) -> HTTPListeners.Running {
        let statistics = self.statistics
        return try await ControllerHTTPServer(metrics: metrics, health: health, logger: logger) { statistics.render() }.start()
    }
}
