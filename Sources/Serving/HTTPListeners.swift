#if canImport(Glibc)
import Glibc
#endif
import Hummingbird
import Logging
import NIOCore
import ServiceLifecycle

/// One HTTP endpoint of a role (`/metrics`, `/healthz`), with the flag that sets its address.
public struct HTTPListener: Sendable {
    public var name: String
    public var flag: String
    public var address: ListenAddress
    let responder: RouterResponder<BasicRequestContext>

    public init(name: String, flag: String, address: ListenAddress, router: Router<BasicRequestContext>) {
        self.name = name; self.flag = flag; self.address = address; self.responder = router.buildResponder()
    }
}

/// Starts a role's HTTP listeners one by one, so a port that cannot be bound is named exactly, and stops them
/// gracefully (never by cancellation, which makes the server log errors on a clean stop).
public struct HTTPListeners: Sendable {
    public let listeners: [HTTPListener]
    let logger: Logger

    public init(_ listeners: [HTTPListener], logger: Logger) {
        self.listeners = listeners
        var quiet = logger
        quiet.logLevel = max(logger.logLevel, .warning)
        self.logger = quiet
    }

    /// Returns once every listener accepts connections; on failure the ones already started are stopped again.
    public func start() async throws(ServingError) -> Running {
        var started: [Running.Listener] = []
        for listener in listeners {
            do {
                started.append(try await start(listener))
            } catch {
                await Running(listeners: started).stop()
                throw error
            }
        }
        return Running(listeners: started)
    }

    func start(_ listener: HTTPListener) async throws(ServingError) -> Running.Listener {
        let (events, signal) = AsyncStream<Void>.makeStream()
        let app = Application(responder: listener.responder,
                              configuration: .init(address: .hostname(listener.address.host, port: listener.address.port), serverName: "akvs-\(listener.name)"),
                              onServerRunning: { _ in signal.yield() }, logger: logger)
        let group = ServiceGroup(configuration: .init(services: [.init(service: app)], logger: logger))
        let task = Task {
            defer { signal.finish() }
            try await group.run()
        }
        for await _ in events { return Running.Listener(group: group, task: task) }
        let reason: String
        do { try await task.value; reason = "the listener stopped" } catch { reason = Self.describe(error) }
        throw .listen(name: listener.name, address: listener.address.description, flag: listener.flag, reason: reason)
    }

    static func describe(_ error: any Error) -> String {
        if let io = error as? IOError { return String(cString: strerror(io.errnoCode)) }
        return "\(error)"
    }

    /// Listeners that are serving.
    public struct Running: Sendable {
        struct Listener: Sendable {
            let group: ServiceGroup
            let task: Task<Void, any Error>
        }
        let listeners: [Listener]

        /// Graceful shutdown of every listener; returns when all have closed.
        public func stop() async {
            for listener in listeners { await listener.group.triggerGracefulShutdown() }
            for listener in listeners { _ = try? await listener.task.value }
        }
    }
}
