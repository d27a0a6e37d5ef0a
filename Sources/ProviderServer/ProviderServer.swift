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
import Serving

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
    public static func socketPath(_ endpoint: String) throws(ServingError) -> String {
        try UnixSocket.path(endpoint: endpoint, example: "unix:///provider/azure.sock")
    }

    /// Serves until cancelled. `ready` is called once the socket accepts connections and both HTTP ports listen.
    public func run(ready: @escaping @Sendable () -> Void = {}) async throws {
        let path = try Self.socketPath(options.endpoint)
        try UnixSocket.prepare(path)
        // The socket is created under umask 0077, as upstream: only the driver (root) may connect.
        let previous = umask(0o077)
        let server = GRPCServer(transport: .http2NIOPosix(address: .unixDomainSocket(path: path), transportSecurity: .plaintext),
                                services: [ProviderGRPCService(provider: provider, metrics: metrics, version: options.version, logger: logger), HealthService()])
        let grpc = Task { try await server.serve() }
        do { _ = try await server.listeningAddress } catch {
            umask(previous)
            grpc.cancel()
            throw ServingError.socket(path: path, reason: "\(error)")
        }
        umask(previous)
        UnixSocket.restrict(path)
        let web: HTTPListeners.Running
        do { web = try await HTTPListeners(listeners(socketPath: path), logger: logger).start() } catch {
            // A health or metrics port could not be bound: stop gRPC too and report which.
            server.beginGracefulShutdown()
            _ = try? await grpc.value
            UnixSocket.remove(path)
            throw error
        }
        ready()
        await withTaskCancellationHandler {
            _ = try? await grpc.value
        } onCancel: {
            server.beginGracefulShutdown()
        }
        await web.stop()
        UnixSocket.remove(path)
    }

    func listeners(socketPath: String) -> [HTTPListener] {
        let healthRouter = Router()
        healthRouter.get(RouterPath(options.healthzPath)) { _, _ -> Response in
            await HealthProbe.check(socketPath: socketPath)
                ? Response(status: .ok, body: .init(byteBuffer: ByteBuffer(string: "ok")))
                : Response(status: .serviceUnavailable, body: .init(byteBuffer: ByteBuffer(string: "provider gRPC health check failed")))
        }
        let metricsRouter = Router()
        let metrics = self.metrics
        metricsRouter.get("/metrics") { _, _ -> Response in
            Response(status: .ok, headers: [.contentType: "text/plain; version=0.0.4"], body: .init(byteBuffer: ByteBuffer(string: metrics.render() + ProcessMetrics.render())))
        }
        return [
            HTTPListener(name: "health", flag: "--healthz-port", address: ListenAddress(host: options.httpHost, port: options.healthzPort), router: healthRouter),
            HTTPListener(name: "metrics", flag: "--prometheus-port", address: ListenAddress(host: options.httpHost, port: options.metricsPort), router: metricsRouter),
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
