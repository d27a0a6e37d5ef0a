import CSIAPI
import Foundation
import GRPCCore
import GRPCNIOTransportHTTP2
import Logging
import Serving

/// kubelet plugin registration built into the driver (what the node-driver-registrar sidecar does upstream):
/// `pluginregistration.Registration` on `<dir>/<driver>-reg.sock`, recreated if the socket disappears so that
/// kubelet's plugin watcher registers the driver again.
public struct KubeletRegistration: Sendable {
    public struct Options: Sendable {
        /// The driver name kubelet registers (`--drivername`).
        public var driverName: String
        /// `--kubelet-registration-path`: the driver's CSI socket as a path on the node, handed to kubelet.
        public var kubeletEndpoint: String
        /// `--plugin-registration-dir`: kubelet's `plugins_registry` folder as mounted in the container.
        public var registrationDirectory: String
        /// How often the socket is checked for removal.
        public var checkInterval: Duration

        public init(driverName: String, kubeletEndpoint: String, registrationDirectory: String = "/registration", checkInterval: Duration = .seconds(5)) {
            self.driverName = driverName; self.kubeletEndpoint = kubeletEndpoint
            self.registrationDirectory = registrationDirectory; self.checkInterval = checkInterval
        }

        /// `<dir>/<driver>-reg.sock`, the name kubelet's watcher and the registrar sidecar use.
        public var socketPath: String { (registrationDirectory as NSString).appendingPathComponent("\(driverName)-reg.sock") }
    }

    public let options: Options
    public let status: RegistrationStatus
    let logger: Logger

    public init(options: Options, status: RegistrationStatus = RegistrationStatus(), logger: Logger) {
        self.options = options; self.status = status; self.logger = logger
    }

    /// Serves until cancelled; `ready` is called the first time the registration socket listens.
    public func run(ready: @escaping @Sendable () -> Void = {}) async throws {
        let path = options.socketPath
        var first = true
        while !Task.isCancelled {
            try UnixSocket.prepare(path)
            let server = GRPCServer(transport: .http2NIOPosix(address: .unixDomainSocket(path: path), transportSecurity: .plaintext),
                                    services: [RegistrationService(options: options, status: status, logger: logger)])
            let serving = Task { try await server.serve() }
            do { _ = try await server.listeningAddress } catch {
                serving.cancel()
                throw ServingError.socket(path: path, reason: "kubelet registration socket cannot listen: \(error)")
            }
            UnixSocket.restrict(path)
            let identity = SocketIdentity(path)
            logger.info("kubelet registration socket listening", metadata: ["socket": "\(path)", "endpoint": "\(options.kubeletEndpoint)"])
            if first { ready(); first = false }
            // Wait until cancelled or until the socket file is gone or replaced (kubelet's folder was cleaned).
            let replaced = await withTaskCancellationHandler {
                while !Task.isCancelled {
                    try? await Task.sleep(for: options.checkInterval)
                    if Task.isCancelled { return false }
                    if SocketIdentity(path) != identity { return true }
                }
                return false
            } onCancel: {
                server.beginGracefulShutdown()
            }
            server.beginGracefulShutdown()
            _ = try? await serving.value
            guard replaced else { break }
            await status.reset()
            logger.warning("kubelet registration socket was removed; recreating it so kubelet registers the driver again", metadata: ["socket": "\(path)"])
        }
        UnixSocket.remove(path)
    }
}

/// What kubelet last said about the registration (nil until it has called NotifyRegistrationStatus).
public actor RegistrationStatus {
    public private(set) var registered: Bool?
    public private(set) var error: String?

    public init() {}

    func record(registered: Bool, error: String) {
        self.registered = registered
        self.error = error.isEmpty ? nil : error
    }

    func reset() { registered = nil; error = nil }

    /// False only after kubelet refused the registration (the liveness check then fails, and the container restarts).
    public var healthy: Bool { registered != false }
}

/// `pluginregistration.Registration`, as the node-driver-registrar serves it.
struct RegistrationService: Pluginregistration_Registration.SimpleServiceProtocol {
    let options: KubeletRegistration.Options
    let status: RegistrationStatus
    let logger: Logger

    func getInfo(request: Pluginregistration_InfoRequest, context: ServerContext) async throws -> Pluginregistration_PluginInfo {
        var info = Pluginregistration_PluginInfo()
        info.type = "CSIPlugin"
        info.name = options.driverName
        info.endpoint = options.kubeletEndpoint
        info.supportedVersions = ["1.0.0"]
        return info
    }

    func notifyRegistrationStatus(request: Pluginregistration_RegistrationStatus, context: ServerContext) async throws -> Pluginregistration_RegistrationStatusResponse {
        await status.record(registered: request.pluginRegistered, error: request.error)
        if request.pluginRegistered {
            logger.info("registered with kubelet", metadata: ["driver": "\(options.driverName)"])
        } else {
            logger.error("kubelet refused the registration; check --kubelet-registration-path (the CSI socket as a path on the node) and --drivername",
                         metadata: ["driver": "\(options.driverName)", "kubelet_error": "\(request.error)", "endpoint": "\(options.kubeletEndpoint)"])
        }
        return Pluginregistration_RegistrationStatusResponse()
    }
}
