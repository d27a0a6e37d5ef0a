import Hummingbird
import Logging
import NIOCore
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
        let metricsRouter = Router()
        let statistics = self.statistics
        metricsRouter.get("/metrics") { _, _ -> Response in
            Response(status: .ok, headers: [.contentType: "text/plain; version=0.0.4"], body: .init(byteBuffer: ByteBuffer(string: statistics.render() + ProcessMetrics.render())))
        }
        let healthRouter = Router()
        healthRouter.get("/healthz") { _, _ in "ok" }
        healthRouter.get("/readyz") { _, _ in "ok" }
        return try await HTTPListeners([
            HTTPListener(name: "metrics", flag: "--metrics-bind-address", address: metrics, router: metricsRouter),
            HTTPListener(name: "health", flag: "--health-probe-bind-address", address: health, router: healthRouter),
        ], logger: logger).start()
    }
}
