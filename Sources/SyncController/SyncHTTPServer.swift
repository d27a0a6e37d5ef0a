import Hummingbird
import Logging
import NIOCore

/// `/metrics` (Prometheus) and `/healthz`, `/readyz` for the controller, on the upstream ports (:8085, :8081).
public struct SyncHTTPServer: Sendable {
    public var host: String
    public var metricsPort: Int
    public var healthPort: Int
    public let statistics: SyncStatistics
    let logger: Logger

    public init(host: String = "0.0.0.0", metricsPort: Int = 8085, healthPort: Int = 8081, statistics: SyncStatistics, logger: Logger) {
        self.host = host; self.metricsPort = metricsPort; self.healthPort = healthPort; self.statistics = statistics; self.logger = logger
    }

    /// Serves until cancelled.
    public func run() async throws {
        let metrics = Router()
        let statistics = self.statistics
        metrics.get("/metrics") { _, _ -> Response in
            Response(status: .ok, headers: [.contentType: "text/plain; version=0.0.4"], body: .init(byteBuffer: ByteBuffer(string: statistics.render())))
        }
        let health = Router()
        health.get("/healthz") { _, _ in "ok" }
        health.get("/readyz") { _, _ in "ok" }
        let apps = [
            Application(router: metrics, configuration: .init(address: .hostname(host, port: metricsPort), serverName: "akvs-sync-metrics"), logger: logger),
            Application(router: health, configuration: .init(address: .hostname(host, port: healthPort), serverName: "akvs-sync-health"), logger: logger),
        ]
        try await withThrowingTaskGroup(of: Void.self) { group in
            for app in apps { group.addTask { try await app.runService() } }
            try await group.next()
            group.cancelAll()
        }
    }
}
