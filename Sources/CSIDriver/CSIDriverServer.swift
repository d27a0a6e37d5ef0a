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
import Serving

/// `akvs csi-driver`: CSI Identity + Node on a unix socket, `/metrics` (:8095), a liveness `/healthz` (:9808)
/// that calls the driver's own CSI Probe (as the upstream liveness-probe sidecar does), and optionally kubelet's
/// plugin registration (as the node-driver-registrar sidecar does).
public struct CSIDriverServer: Sendable {
    public struct Options: Sendable {
        /// `--endpoint`, e.g. `unix:///csi/csi.sock`.
        public var endpoint: String
        /// `--metrics-addr`.
        public var metrics: ListenAddress
        /// `--health-addr`; nil when the liveness-probe sidecar serves it instead.
        public var health: ListenAddress?
        /// Built-in kubelet registration; nil when the node-driver-registrar sidecar registers the driver.
        public var registration: KubeletRegistration.Options?
        /// More Prometheus text for `/metrics` (an in-process provider's `keyvault_request`, `grpc_request`).
        public var additionalMetrics: (@Sendable () -> String)?

        public init(endpoint: String = "unix:///tmp/csi.sock", metrics: ListenAddress = ListenAddress(host: "0.0.0.0", port: 8095),
                    health: ListenAddress? = ListenAddress(host: "0.0.0.0", port: 9808), registration: KubeletRegistration.Options? = nil,
                    additionalMetrics: (@Sendable () -> String)? = nil) {
            self.endpoint = endpoint; self.metrics = metrics; self.health = health; self.registration = registration
            self.additionalMetrics = additionalMetrics
        }
    }

    public let options: Options
    public let publisher: NodePublisher
    public let metrics: DriverMetrics
    public let registrationStatus = RegistrationStatus()
    let logger: Logger

    public init(options: Options, publisher: NodePublisher, metrics: DriverMetrics, logger: Logger = Logger(label: "akvs.csi-driver")) {
        self.options = options; self.publisher = publisher; self.metrics = metrics; self.logger = logger
    }

    /// The socket path named by `--endpoint` (`unix:///abs/path`, `unix:/abs/path`, or upstream's default `unix://tmp/csi.sock`).
    public static func socketPath(_ endpoint: String) throws(ServingError) -> String {
        try UnixSocket.path(endpoint: endpoint, example: "unix:///csi/csi.sock", hostIsFolder: true)
    }

    /// Serves until cancelled; `ready` is called once the socket, the HTTP ports and the registration socket listen.
    public func run(ready: @escaping @Sendable () -> Void = {}) async throws {
        let path = try Self.socketPath(options.endpoint)
        try UnixSocket.prepare(path)
        let server = GRPCServer(transport: .http2NIOPosix(address: .unixDomainSocket(path: path), transportSecurity: .plaintext),
                                services: [IdentityService(configuration: publisher.configuration), NodeService(publisher: publisher), ControllerService()])
        let grpc = Task { try await server.serve() }
        do { _ = try await server.listeningAddress } catch {
            grpc.cancel()
            throw ServingError.socket(path: path, reason: "\(error)")
        }
        UnixSocket.restrict(path)
        let web: HTTPListeners.Running
        do { web = try await HTTPListeners(listeners(socketPath: path), logger: logger).start() } catch {
            server.beginGracefulShutdown()
            _ = try? await grpc.value
            UnixSocket.remove(path)
            throw error
        }
        let registering: Task<Void, any Error>?
        if let registration = options.registration.map({ KubeletRegistration(options: $0, status: registrationStatus, logger: logger) }) {
            let (events, signal) = AsyncStream<Void>.makeStream()
            let task = Task {
                defer { signal.finish() }
                try await registration.run(ready: { signal.yield() })
            }
            var listening = false
            for await _ in events { listening = true; break }
            guard listening else {
                server.beginGracefulShutdown()
                _ = try? await grpc.value
                await web.stop()
                UnixSocket.remove(path)
                try await task.value
                throw ServingError.socket(path: registration.options.socketPath, reason: "kubelet registration stopped")
            }
            registering = task
        } else {
            registering = nil
        }
        let caches = Task { await publisher.watch() }
        ready()
        await withTaskCancellationHandler {
            _ = try? await grpc.value
        } onCancel: {
            server.beginGracefulShutdown()
            registering?.cancel()
            caches.cancel()
        }
        caches.cancel()
        _ = try? await registering?.value
        await caches.value
        await web.stop()
        await publisher.providers.shutdown()
        UnixSocket.remove(path)
    }

    func listeners(socketPath: String) -> [HTTPListener] {
        let metricsRouter = Router()
        let metrics = self.metrics, additional = options.additionalMetrics
        metricsRouter.get("/metrics") { _, _ -> Response in
            let text = metrics.render() + (additional?() ?? "") + ProcessMetrics.render()
            return Response(status: .ok, headers: [.contentType: "text/plain; version=0.0.4"], body: .init(byteBuffer: ByteBuffer(string: text)))
        }
        var listeners = [HTTPListener(name: "metrics", flag: "--metrics-addr", address: options.metrics, router: metricsRouter)]
        if let health = options.health {
            let healthRouter = Router()
            let status = registrationStatus
            healthRouter.get("/healthz") { _, _ -> Response in
                guard await status.healthy else {
                    return Response(status: .internalServerError, body: .init(byteBuffer: ByteBuffer(string: "kubelet refused the plugin registration")))
                }
                return await CSIProbe.ready(socketPath: socketPath)
                    ? Response(status: .ok, body: .init(byteBuffer: ByteBuffer(string: "ok")))
                    : Response(status: .internalServerError, body: .init(byteBuffer: ByteBuffer(string: "CSI Probe over \(socketPath) failed")))
            }
            listeners.append(HTTPListener(name: "health", flag: "--health-addr", address: health, router: healthRouter))
        }
        return listeners
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
