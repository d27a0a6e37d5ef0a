#if canImport(Glibc)
import Glibc
#endif
import CSIAPI
import Foundation
import GRPCCore
import GRPCNIOTransportHTTP2
import Hummingbird
import Logging
import NIOCore
import ServiceLifecycle

/// `akvs csi-driver`: CSI Identity + Node on a unix socket, `/metrics` (:8095) and a liveness `/healthz` (:9808)
/// that calls the driver's own CSI Probe, as the upstream liveness-probe sidecar does.
public struct CSIDriverServer: Sendable {
    public struct Options: Sendable {
        /// `--endpoint`, e.g. `unix:///csi/csi.sock`.
        public var endpoint: String
        public var metricsHost: String
        public var metricsPort: Int
        public var healthHost: String
        public var healthPort: Int
        public init(endpoint: String = "unix:///tmp/csi.sock", metricsHost: String = "0.0.0.0", metricsPort: Int = 8095,
                    healthHost: String = "0.0.0.0", healthPort: Int = 9808) {
            self.endpoint = endpoint; self.metricsHost = metricsHost; self.metricsPort = metricsPort
            self.healthHost = healthHost; self.healthPort = healthPort
        }
    }

    public let options: Options
    public let publisher: NodePublisher
    public let metrics: DriverMetrics
    let logger: Logger

    public init(options: Options, publisher: NodePublisher, metrics: DriverMetrics, logger: Logger = Logger(label: "akvs.csi-driver")) {
        self.options = options; self.publisher = publisher; self.metrics = metrics; self.logger = logger
    }

    /// The socket path named by `--endpoint` (`unix:///abs/path`, `unix:/abs/path`, or upstream's default `unix://tmp/csi.sock`).
    public static func socketPath(_ endpoint: String) throws(CSIServerError) -> String {
        guard endpoint.hasPrefix("unix:") else { throw .endpoint(endpoint) }
        var path = String(endpoint.dropFirst(5))
        if path.hasPrefix("//") { path = String(path.dropFirst(2)) }
        if !path.hasPrefix("/") { path = "/" + path }  // unix://tmp/csi.sock means /tmp/csi.sock, as in Go's url parsing used upstream
        guard path.count > 1 else { throw .endpoint(endpoint) }
        return path
    }

    /// Serves until cancelled; `ready` is called once the socket and both HTTP ports listen.
    public func run(ready: @escaping @Sendable () -> Void = {}) async throws {
        let path = try Self.socketPath(options.endpoint)
        try prepareSocket(path)
        let server = GRPCServer(transport: .http2NIOPosix(address: .unixDomainSocket(path: path), transportSecurity: .plaintext),
                                services: [IdentityService(configuration: publisher.configuration), NodeService(publisher: publisher)])
        let grpc = Task { try await server.serve() }
        do { _ = try await server.listeningAddress } catch {
            grpc.cancel()
            throw CSIServerError.socket(path: path, reason: "\(error)")
        }
        chmod(path, 0o600)
        let (started, signal) = AsyncStream<Void>.makeStream()
        let apps = makeHTTP(socketPath: path) { signal.yield() }
        var quiet = logger
        quiet.logLevel = .warning
        let group = ServiceGroup(configuration: .init(services: apps.map { .init(service: $0) }, logger: quiet))
        // Both run outside this task so that cancelling it shuts them down gracefully instead of tearing them down.
        let web = Task {
            defer { signal.finish() }
            try await group.run()
        }
        var listening = 0
        for await _ in started {
            listening += 1
            if listening == apps.count { break }
        }
        guard listening == apps.count else {
            server.beginGracefulShutdown()
            _ = try? await grpc.value
            unlink(path)
            _ = try? await web.value
            throw CSIServerError.socket(path: path, reason: "the metrics or health port could not be opened (in use?)")
        }
        ready()
        await withTaskCancellationHandler {
            _ = try? await grpc.value
            _ = try? await web.value
        } onCancel: {
            server.beginGracefulShutdown()
            Task { await group.triggerGracefulShutdown() }
        }
        await publisher.providers.shutdown()
        unlink(path)
    }

    func prepareSocket(_ path: String) throws(CSIServerError) {
        let directory = (path as NSString).deletingLastPathComponent
        do { try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true) } catch {
            throw .socket(path: path, reason: "cannot create \(directory): \(error.localizedDescription)")
        }
        var st = stat()
        if lstat(path, &st) == 0 {
            guard (st.st_mode & S_IFMT) == S_IFSOCK else { throw .socket(path: path, reason: "exists and is not a socket; remove it or choose another --endpoint") }
            unlink(path)
        }
    }

    func makeHTTP(socketPath: String, onRunning: @escaping @Sendable () -> Void) -> [Application<RouterResponder<BasicRequestContext>>] {
        var quiet = logger
        quiet.logLevel = .warning
        let metricsRouter = Router()
        let metrics = self.metrics
        metricsRouter.get("/metrics") { _, _ -> Response in
            Response(status: .ok, headers: [.contentType: "text/plain; version=0.0.4"], body: .init(byteBuffer: ByteBuffer(string: metrics.render())))
        }
        let healthRouter = Router()
        healthRouter.get("/healthz") { _, _ -> Response in
            await CSIProbe.ready(socketPath: socketPath)
                ? Response(status: .ok, body: .init(byteBuffer: ByteBuffer(string: "ok")))
                : Response(status: .internalServerError, body: .init(byteBuffer: ByteBuffer(string: "CSI Probe over \(socketPath) failed")))
        }
        return [
            Application(router: metricsRouter, configuration: .init(address: .hostname(options.metricsHost, port: options.metricsPort), serverName: "akvs-csi-metrics"),
                        onServerRunning: { _ in onRunning() }, logger: quiet),
            Application(router: healthRouter, configuration: .init(address: .hostname(options.healthHost, port: options.healthPort), serverName: "akvs-csi-health"),
                        onServerRunning: { _ in onRunning() }, logger: quiet),
        ]
    }
}

/// Calls CSI `Identity/Probe` over a socket, as the liveness-probe sidecar does.
public enum CSIProbe {
    public static func ready(socketPath: String, timeout: Duration = .seconds(5)) async -> Bool {
        do {
            return try await withGRPCClient(transport: .http2NIOPosix(target: .unixDomainSocket(path: socketPath), transportSecurity: .plaintext)) { client in
                var options = CallOptions.defaults
                options.timeout = timeout
                let reply = try await Csi_V1_Identity.Client(wrapping: client).probe(Csi_V1_ProbeRequest(), options: options)
                return !reply.hasReady || reply.ready.value
            }
        } catch {
            return false
        }
    }
}

/// Why the CSI server cannot start.
public enum CSIServerError: Error, CustomStringConvertible {
    case endpoint(String)
    case socket(path: String, reason: String)

    public var description: String {
        switch self {
        case .endpoint(let e): return "--endpoint '\(e)' must be a unix socket URL such as unix:///csi/csi.sock"
        case .socket(let p, let r): return "socket \(p): \(r)"
        }
    }
}
