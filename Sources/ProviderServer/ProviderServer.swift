#if canImport(Glibc)
import Glibc
#endif
import AzureProvider
import Foundation
import GRPCCore
import GRPCNIOTransportHTTP2
import Hummingbird
import Logging
import NIOCore
import ProviderAPI
import ServiceLifecycle

/// `akvs provider`: the Azure provider's gRPC server on a unix socket, plus /healthz and /metrics over HTTP.
public struct ProviderServer: Sendable {
    public struct Options: Sendable {
        /// `--endpoint`, e.g. `unix:///provider/azure.sock`.
        public var endpoint: String
        public var healthzPort: Int
        public var healthzPath: String
        public var metricsPort: Int
        public var httpHost: String
        public var version: String
        public init(endpoint: String = "unix:///tmp/azure.sock", healthzPort: Int = 8989, healthzPath: String = "/healthz",
                    metricsPort: Int = 8898, httpHost: String = "0.0.0.0", version: String = "0.1.0") {
            self.endpoint = endpoint; self.healthzPort = healthzPort; self.healthzPath = healthzPath
            self.metricsPort = metricsPort; self.httpHost = httpHost; self.version = version
        }
    }

    public let options: Options
    public let provider: AzureProvider
    public let metrics: PrometheusProviderMetrics
    let logger: Logger

    public init(options: Options, provider: AzureProvider, metrics: PrometheusProviderMetrics, logger: Logger = Logger(label: "akvs.provider")) {
        self.options = options; self.provider = provider; self.metrics = metrics; self.logger = logger
    }

    /// The socket path named by `--endpoint`.
    public static func socketPath(_ endpoint: String) throws(ProviderServerError) -> String {
        for prefix in ["unix://", "unix:"] where endpoint.hasPrefix(prefix) {
            let path = String(endpoint.dropFirst(prefix.count))
            guard path.hasPrefix("/") else { break }
            return path
        }
        throw .endpoint(endpoint)
    }

    /// Serves until cancelled. `ready` is called once the socket accepts connections.
    public func run(ready: @escaping @Sendable () -> Void = {}) async throws {
        let path = try Self.socketPath(options.endpoint)
        try prepareSocket(path)
        // The socket is created under umask 0077, as upstream: only the driver (root) may connect.
        let previous = umask(0o077)
        let server = GRPCServer(transport: .http2NIOPosix(address: .unixDomainSocket(path: path), transportSecurity: .plaintext),
                                services: [ProviderGRPCService(provider: provider, metrics: metrics, version: options.version, logger: logger), HealthService()])
        let grpc = Task { try await server.serve() }
        _ = try await server.listeningAddress
        umask(previous)
        // umask is process-wide: another server starting concurrently in this process may have restored a
        // looser one between the calls above, so the mode is also set explicitly.
        chmod(path, 0o600)
        let (webReady, webStarted) = AsyncStream<Void>.makeStream()
        let http = makeHTTP(socketPath: path, onRunning: { webStarted.yield() })
        let group = ServiceGroup(configuration: .init(services: http.map { .init(service: $0) }, logger: logger))
        // Both run outside this task so that cancelling it shuts them down gracefully instead of tearing them down.
        let web = Task {
            defer { webStarted.finish() }
            try await group.run()
        }
        var listening = 0
        for await _ in webReady {
            listening += 1
            if listening == http.count { break }
        }
        guard listening == http.count else {
            // A health or metrics port could not be bound: stop gRPC too and report why.
            server.beginGracefulShutdown()
            _ = try? await grpc.value
            unlink(path)
            try await web.value
            throw ProviderServerError.socket(path: path, reason: "the health and metrics listeners stopped")
        }
        ready()
        await withTaskCancellationHandler {
            _ = try? await grpc.value
            _ = try? await web.value
        } onCancel: {
            server.beginGracefulShutdown()
            Task { await group.triggerGracefulShutdown() }
        }
        unlink(path)
    }

    func prepareSocket(_ path: String) throws(ProviderServerError) {
        let directory = (path as NSString).deletingLastPathComponent
        do { try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true) } catch {
            throw .socket(path: path, reason: "cannot create \(directory): \(error.localizedDescription)")
        }
        var st = stat()
        if lstat(path, &st) == 0 {
            // Only a stale socket from an earlier run is removed; anything else is left alone.
            guard (st.st_mode & S_IFMT) == S_IFSOCK else { throw .socket(path: path, reason: "exists and is not a socket; remove it or choose another --endpoint") }
            unlink(path)
        }
    }

    func makeHTTP(socketPath: String, onRunning: @escaping @Sendable () -> Void) -> [Application<RouterResponder<BasicRequestContext>>] {
        var quiet = logger
        quiet.logLevel = .warning
        let healthRouter = Router()
        healthRouter.get(RouterPath(options.healthzPath)) { _, _ -> Response in
            await HealthProbe.check(socketPath: socketPath)
                ? Response(status: .ok, body: .init(byteBuffer: ByteBuffer(string: "ok")))
                : Response(status: .serviceUnavailable, body: .init(byteBuffer: ByteBuffer(string: "provider gRPC health check failed")))
        }
        let metricsRouter = Router()
        let metrics = self.metrics
        metricsRouter.get("/metrics") { _, _ -> Response in
            Response(status: .ok, headers: [.contentType: "text/plain; version=0.0.4"], body: .init(byteBuffer: ByteBuffer(string: metrics.render())))
        }
        return [
            Application(router: healthRouter, configuration: .init(address: .hostname(options.httpHost, port: options.healthzPort)),
                        onServerRunning: { _ in onRunning() }, logger: quiet),
            Application(router: metricsRouter, configuration: .init(address: .hostname(options.httpHost, port: options.metricsPort)),
                        onServerRunning: { _ in onRunning() }, logger: quiet),
        ]
    }
}

/// Calls `grpc.health.v1.Health/Check` over the provider's own socket (as the upstream /healthz does).
public enum HealthProbe {
    public static func check(socketPath: String, timeout: Duration = .seconds(5)) async -> Bool {
        do {
            return try await withGRPCClient(transport: .http2NIOPosix(target: .unixDomainSocket(path: socketPath), transportSecurity: .plaintext)) { client in
                let health = Grpc_Health_V1_Health.Client(wrapping: client)
                var options = CallOptions.defaults
                options.timeout = timeout
                let reply = try await health.check(Grpc_Health_V1_HealthCheckRequest(), options: options)
                return reply.status == .serving
            }
        } catch {
            return false
        }
    }
}

/// Why the provider server cannot start.
public enum ProviderServerError: Error, CustomStringConvertible {
    case endpoint(String)
    case socket(path: String, reason: String)

    public var description: String {
        switch self {
        case .endpoint(let e): return "--endpoint '\(e)' must be a unix socket URL such as unix:///provider/azure.sock"
        case .socket(let p, let r): return "socket \(p): \(r)"
        }
    }
}
