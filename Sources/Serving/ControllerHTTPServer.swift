import Hummingbird
import Logging
import NIOCore

/// A controller's `/metrics` (Prometheus text from `render`, plus the process's own) and `/healthz`, `/readyz`.
public struct ControllerHTTPServer: Sendable {
    public var metrics: ListenAddress
    public var health: ListenAddress
    let render: @Sendable () -> String
    let logger: Logger

    public init(metrics: ListenAddress, health: ListenAddress, logger: Logger, render: @escaping @Sendable () -> String) {
        self.metrics = metrics; self.health = health; self.logger = logger; self.render = render
    }

    /// Returns once both listeners accept connections; stop them with `stop()` on the result.
    public func start() async throws(ServingError) -> HTTPListeners.Running {
        let metricsRouter = Router()
        let render = self.render
        metricsRouter.get("/metrics") { _, _ -> Response in
            Response(status: .ok, headers: [.contentType: "text/plain; version=0.0.4"], body: .init(byteBuffer: ByteBuffer(string: render() + ProcessMetrics.render())))
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
