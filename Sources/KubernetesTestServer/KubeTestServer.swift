import Emulator
import Foundation
import Hummingbird
import HummingbirdCore
import HummingbirdTLS
import Logging
import NIOCore
import NIOSSL
import ServiceLifecycle
import StructuredJSON

/// How to run the test server.
public struct KubeTestServerOptions: Sendable {
    public var host: String
    /// 0 picks a free port.
    public var port: Int
    public var registry: ResourceRegistry
    /// Tokens accepted as `Authorization: Bearer`.
    public var tokens: Set<String>
    /// How often open watches that asked for bookmarks get one.
    public var bookmarkInterval: Duration
    /// How many changes watches can resume across; older resourceVersions answer 410.
    public var historyLimit: Int
    /// Namespaces that exist at start.
    public var namespaces: [String]
    /// How long a deleted namespace stays Terminating (refusing new content) before it and its contents are gone.
    public var namespaceFinalizeDelay: Duration
    /// Serve HTTPS, as kube-apiserver does, with a CA kept in this folder (its root goes into the kubeconfig):
    /// clients such as kubectl send no bearer token over plain HTTP.
    public var tlsDirectory: String?
    public var logger: Logger

    public static let adminToken = "test-admin-token"

    public init(host: String = "127.0.0.1", port: Int = 0, registry: ResourceRegistry = .standard, tokens: Set<String> = [adminToken],
                bookmarkInterval: Duration = .seconds(1), historyLimit: Int = 100_000, namespaces: [String] = ["default", "kube-system"],
                namespaceFinalizeDelay: Duration = .milliseconds(500), tlsDirectory: String? = nil,
                logger: Logger = { var l = Logger(label: "akvs.kube-test-server"); l.logLevel = .warning; return l }()) {
        self.host = host; self.port = port; self.registry = registry; self.tokens = tokens; self.bookmarkInterval = bookmarkInterval
        self.historyLimit = historyLimit; self.namespaces = namespaces; self.namespaceFinalizeDelay = namespaceFinalizeDelay
        self.tlsDirectory = tlsDirectory; self.logger = logger
    }
}

/// A running test server.
public struct KubeTestServer: Sendable {
    public let url: URL
    public let issuer: TokenIssuer
    /// The CA that signed the HTTPS certificate (nil for plain HTTP).
    public let certificateAuthorityPEM: String?
    let state: ClusterState
    let faults: Faults
    let access: AccessControl
    let tally: RequestTally
    let accessLog: AccessLog
    let group: ServiceGroup
    let tasks: [Task<Void, any Error>]

    /// Starts an in-memory kube-apiserver on real HTTP.
    public static func start(_ options: KubeTestServerOptions = .init()) async throws -> KubeTestServer {
        let state = ClusterState(registry: options.registry, historyLimit: options.historyLimit, namespaceFinalizeDelay: options.namespaceFinalizeDelay)
        let faults = Faults()
        let access = AccessControl(tokens: options.tokens)
        let (ports, portContinuation) = AsyncStream<Int>.makeStream()
        let issuerBox = IssuerBox()
        let responder = CallbackResponder<BasicRequestContext> { request, _ in
            guard let router = await issuerBox.router else { return Response(status: .serviceUnavailable) }
            return await router.handle(request)
        }
        var certificateAuthorityPEM: String?
        var server: HTTPServerBuilder = .http1()
        if let directory = options.tlsDirectory {
            do {
                let authority = try CertificateAuthority.loadOrCreate(directory: URL(fileURLWithPath: directory), commonName: "akvs kube-test-server CA")
                let issued = try authority.issueServerCertificate(dnsNames: ["localhost", "kubernetes.default.svc"], ipAddresses: ["127.0.0.1", "::1"])
                let tls = TLSConfiguration.makeServerConfiguration(
                    certificateChain: [.certificate(try NIOSSLCertificate(bytes: Array(issued.certificatePEM.utf8), format: .pem))],
                    privateKey: .privateKey(try NIOSSLPrivateKey(bytes: Array(issued.privateKeyPEM.utf8), format: .pem)))
                server = try .tls(.http1(), tlsConfiguration: tls)
                certificateAuthorityPEM = authority.rootPEM
            } catch {
                throw KubeTestServerError.tls("\(directory): \(error)")
            }
        }
        let app = Application(responder: responder, server: server,
                              configuration: .init(address: .hostname(options.host, port: options.port), serverName: "akvs-kube-test-server"),
                              onServerRunning: { channel in portContinuation.yield(channel.localAddress?.port ?? 0) }, logger: options.logger)
        let group = ServiceGroup(configuration: .init(services: [.init(service: app)], logger: options.logger))
        let serverTask = Task {
            defer { portContinuation.finish() }
            try await group.run()
        }
        var port: Int?
        for await p in ports { port = p; break }
        guard let port, port > 0 else {
            _ = try? await serverTask.value
            throw KubeTestServerError.cannotListen("\(options.host):\(options.port)")
        }
        let hostPart = options.host.contains(":") ? "[\(options.host)]" : options.host
        let url = URL(string: "\(certificateAuthorityPEM == nil ? "http" : "https")://\(hostPart):\(port)")!
        let issuer = TokenIssuer(issuer: url.absoluteString)
        let tally = RequestTally()
        let accessLog = AccessLog()
        await issuerBox.set(Router(state: state, faults: faults, access: access, issuer: issuer, registry: options.registry, tally: tally, accessLog: accessLog))
        for namespace in options.namespaces {
            _ = try await state.create(state.registry.definitions.first { $0.kind == ResourceRegistry.namespaces }!, namespace: nil,
                                       body: ["metadata": ["name": .string(namespace)]], context: WriteContext(fieldManager: "kube-apiserver"))
        }
        let interval = options.bookmarkInterval
        let bookmarks = Task {
            while !Task.isCancelled {
                try await Task.sleep(for: interval)
                await state.sendBookmarks()
            }
        }
        return KubeTestServer(url: url, issuer: issuer, certificateAuthorityPEM: certificateAuthorityPEM, state: state, faults: faults, access: access, tally: tally,
                              accessLog: accessLog, group: group, tasks: [serverTask, bookmarks])
    }

    public func stop() async {
        await state.dropWatches()
        tasks[1].cancel()
        await group.triggerGracefulShutdown()
        _ = try? await tasks[0].value
    }

    /// Runs `body` with a fresh server and stops it afterwards.
    public static func with<T: Sendable>(_ options: KubeTestServerOptions = .init(), _ body: (KubeTestServer) async throws -> T) async throws -> T {
        let server = try await start(options)
        do {
            let result = try await body(server)
            await server.stop()
            return result
        } catch {
            await server.stop()
            throw error
        }
    }

    // MARK: fault injection and inspection

    public func setFaults(_ settings: APIServerFaults) async { await faults.set(settings) }
    public func dropWatches() async { await state.dropWatches() }
    /// API requests answered so far as `[{verb, resource, code, count}]` (WATCH for watches); `reset` starts over.
    public func requests(reset: Bool = false) async -> JSONValue { await tally.snapshot(reset: reset) }
    /// Service accounts' requests as RBAC judged them, `[{user, verb, group, resource, namespace, allowed, count}]`.
    public func access(reset: Bool = false) async -> JSONValue { await accessLog.snapshot(reset: reset) }
    /// Forgets the watch history: resuming from any older resourceVersion answers 410.
    public func compact() async { await state.compact() }
    /// Like an API server restart as clients see it: watches close and history is gone.
    public func restart() async { await state.dropWatches(); await state.compact() }
    public func acceptToken(_ token: String) async { await access.add(token) }
    public func revokeToken(_ token: String) async { await access.remove(token) }
    public var resourceVersion: Int { get async { await state.revision } }
    public var openWatches: Int { get async { await state.openWatchCount } }

    /// A kubeconfig for this server (token auth, namespace `default`).
    public func kubeconfig(token: String = KubeTestServerOptions.adminToken, namespace: String = "default") -> String {
        """
        apiVersion: v1
        kind: Config
        clusters:
        - name: akvs-test
          cluster:
            server: \(url.absoluteString)\(certificateAuthorityPEM.map { "\n    certificate-authority-data: " + Data($0.utf8).base64EncodedString() } ?? "")
        users:
        - name: akvs-test-admin
          user:
            token: \(token)
        contexts:
        - name: akvs-test
          context:
            cluster: akvs-test
            user: akvs-test-admin
            namespace: \(namespace)
        current-context: akvs-test

        """
    }
}

public enum KubeTestServerError: Error, CustomStringConvertible {
    case cannotListen(String)
    case tls(String)
    public var description: String {
        switch self {
        case .cannotListen(let address): return "kube test server: cannot listen on \(address)"
        case .tls(let why): return "kube test server: cannot set up HTTPS with the CA in \(why)"
        }
    }
}

/// The router is built once the port (and so the issuer URL) is known.
actor IssuerBox {
    var router: Router?
    func set(_ router: Router) { self.router = router }
}
