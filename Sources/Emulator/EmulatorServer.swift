import AzureIdentity
import Crypto
import Foundation
import Hummingbird
import HummingbirdTLS
import Logging
import NIOCore
import NIOPosix
import NIOSSL
import ServiceLifecycle

/// How to run the emulator.
public struct EmulatorOptions: Sendable {
    public var host: String
    /// 0 picks a free port.
    public var port: Int
    public var imdsHost: String
    public var imdsPort: Int
    public var stateDirectory: URL
    public var seedPath: String?
    public var logger: Logger

    /// Warnings and errors only: the emulator is a test tool, its request log is noise.
    public static var quietLogger: Logger {
        var logger = Logger(label: "akvs.emulator")
        logger.logLevel = .warning
        return logger
    }

    public init(host: String = "127.0.0.1", port: Int = 0, imdsHost: String = "127.0.0.1", imdsPort: Int = 0,
                stateDirectory: URL, seedPath: String? = nil, logger: Logger = EmulatorOptions.quietLogger) {
        self.host = host; self.port = port; self.imdsHost = imdsHost; self.imdsPort = imdsPort
        self.stateDirectory = stateDirectory; self.seedPath = seedPath; self.logger = logger
    }
}

/// What `credentials.json` holds.
public struct EmulatorCredentials: Codable, Sendable {
    public var tenantId: String
    public var clientId: String
    public var clientSecret: String
    public var authorityHost: String
    public var imdsEndpoint: String
    public var adminEndpoint: String
    public var resource: String
    public var caFile: String
    public var cloudEnvFile: String
    public var vaultUrls: [String: String]
}

/// A running emulator; `stop()` shuts both listeners down.
public struct RunningEmulator: Sendable {
    public let port: Int
    public let imdsPort: Int
    public let stateDirectory: URL
    public let credentials: EmulatorCredentials
    /// The cloud described by `cloud.json` (with the connect override).
    public let cloud: AzureCloud
    let group: ServiceGroup
    let tasks: [Task<Void, any Error>]

    public var caFile: String { credentials.caFile }
    public var authorityURL: URL { URL(string: credentials.authorityHost)! }
    public var imdsURL: URL { URL(string: credentials.imdsEndpoint)! }

    /// The ready line the CLI prints.
    public var readyLine: String {
        "akvs emulator ready \(credentials.authorityHost) imds=\(credentials.imdsEndpoint) state-dir=\(stateDirectory.path)"
    }

    public func vaultURL(_ name: String) -> URL { cloud.vaultURL(name: name) }

    public func stop() async {
        await group.triggerGracefulShutdown()
        for task in tasks { _ = try? await task.value }
    }
}

/// A listener did not come up (the port was taken); `start` retries with new ports.
struct ListenFailure: Error {}

/// Starts the emulator: CA and keys from the state directory, seed, HTTPS and IMDS listeners, state files.
public enum EmulatorServer {
    public static let defaultTenant = "6f1b2c3d-0000-4000-8000-000000000001"

    public static func start(_ options: EmulatorOptions) async throws -> RunningEmulator {
        // A port picked up front can be taken (e.g. as the local port of an outgoing connection)
        // before the listener binds it; with port 0 requested, pick again and retry.
        var attempt = 0
        while true {
            attempt += 1
            let port = options.port == 0 ? try await freePort(host: options.host) : options.port
            let imdsPort = options.imdsPort == 0 ? try await freePort(host: options.imdsHost) : options.imdsPort
            do {
                return try await startOnce(options, port: port, imdsPort: imdsPort)
            } catch let error as EmulatorError {
                throw error
            } catch {
                if attempt >= 5 || (options.port != 0 && options.imdsPort != 0) { throw EmulatorError.startup("cannot listen on \(options.host):\(port) / \(options.imdsHost):\(imdsPort): \(error)") }
            }
        }
    }

    static func startOnce(_ options: EmulatorOptions, port: Int, imdsPort: Int) async throws -> RunningEmulator {
        let dir = options.stateDirectory
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o700])
        let seed = try options.seedPath.map { path throws(EmulatorError) in try Seed.load(path: path) }
        let tenant = seed?.tenantId ?? defaultTenant
        guard IdentityValidation.isGUID(tenant) else { throw EmulatorError.invalid(field: "tenantId", reason: "must be a GUID") }

        let authorityHost = "https://localhost:\(port)"
        let resource = "https://vault.localhost:\(port)"

        let authority = try CertificateAuthority.loadOrCreate(directory: dir)
        try write(authority.rootPEM, to: dir.appendingPathComponent("ca.pem"), mode: 0o644)
        let tokens = TokenService(signingKey: try loadOrCreateKey(dir.appendingPathComponent("token-signing-key.pem")),
                                  issuerKey: try loadOrCreateKey(dir.appendingPathComponent("issuer-signing-key.pem")),
                                  tenantID: tenant, resource: resource, oidcIssuer: "\(authorityHost)/_emulator/issuer")
        let state = EmulatorState(tenantID: tenant, resource: resource, authority: authority,
                                  vaultBaseURL: { "https://\($0).vault.localhost:\(port)" })
        if var seed, let path = options.seedPath {
            seed.resolveEmulatorIssuer(tokens.oidcIssuer)
            try await state.apply(seed, source: path)
        } else {
            try await state.addVault("akvs-demo")
        }
        await state.trustIssuer(tokens.oidcIssuer, keys: [publicJWK(of: tokens.issuerKey, keyID: TokenService.issuerKeyID)])
        let admin = IdentitySeed(name: "akvs-admin", clientId: UUID().uuidString.lowercased(), clientSecret: randomSecret(),
                                 access: Dictionary(uniqueKeysWithValues: await state.vaultNames.map { ($0, "write") }))
        try await state.addIdentity(admin)

        let counters = Counters()
        let keyVault = KeyVaultHandler(state: state, tokens: tokens, counters: counters, authorityHost: authorityHost)
        let entra = EntraHandler(state: state, tokens: tokens, counters: counters, authorityHost: authorityHost)
        let adminAPI = AdminHandler(state: state, tokens: tokens, counters: counters)
        let imds = IMDSHandler(state: state, tokens: tokens, counters: counters)

        let serverCert = try authority.issueServerCertificate(
            dnsNames: ["localhost", "vault.localhost", "*.vault.localhost"] + (isIP(options.host) || options.host == "localhost" ? [] : [options.host]),
            ipAddresses: ["127.0.0.1", "::1"] + (isIP(options.host) && options.host != "127.0.0.1" ? [options.host] : []))
        let tls = TLSConfiguration.makeServerConfiguration(
            certificateChain: [.certificate(try NIOSSLCertificate(bytes: Array(serverCert.certificatePEM.utf8), format: .pem))],
            privateKey: .privateKey(try NIOSSLPrivateKey(bytes: Array(serverCert.privateKeyPEM.utf8), format: .pem)))

        let responder = CallbackResponder<BasicRequestContext> { request, _ in
            var request = request
            let body = (try? await request.collectBody(upTo: 4 << 20)) ?? ByteBuffer()
            let host = request.head.authority ?? ""
            if let vault = vaultName(fromHost: host) {
                return await keyVault.handle(vault: vault, request: request, body: body, host: host)
            }
            if let reply = await adminAPI.handle(request: request, body: body) { return reply }
            if let reply = await entra.handle(request: request, body: body) { return reply }
            return Reply.json(.notFound, ["error": "no route for \(request.method) \(request.uri.path) on host \(host)"])
        }
        let imdsResponder = CallbackResponder<BasicRequestContext> { request, _ in await imds.handle(request: request) }

        let serverLogger = options.logger
        let (ready, readyContinuation) = AsyncStream<Void>.makeStream()
        let main = Application(responder: responder, server: try .tls(.http1(), tlsConfiguration: tls),
                               configuration: .init(address: .hostname(options.host, port: port), serverName: "akvs-emulator"),
                               onServerRunning: { _ in readyContinuation.yield() }, logger: serverLogger)
        let metadata = Application(responder: imdsResponder, server: .http1(),
                                   configuration: .init(address: .hostname(options.imdsHost, port: imdsPort), serverName: "akvs-imds"),
                                   onServerRunning: { _ in readyContinuation.yield() }, logger: serverLogger)
        let group = ServiceGroup(configuration: .init(services: [.init(service: main), .init(service: metadata)], logger: serverLogger))
        // A listener that cannot bind ends the group; that is reported on the same stream as readiness.
        let tasks = [Task {
            defer { readyContinuation.finish() }
            try await group.run()
        }]
        var started = 0
        for await _ in ready {
            started += 1
            if started == 2 { break }
        }
        let listening = started == 2
        guard listening else {
            await group.triggerGracefulShutdown()
            throw ListenFailure()
        }

        let cloudFile = dir.appendingPathComponent("cloud.json")
        let environment = EnvironmentFile(
            name: "AzureStackCloud", activeDirectoryEndpoint: authorityHost + "/", keyVaultEndpoint: resource + "/",
            keyVaultDNSSuffix: "vault.localhost:\(port)", resourceManagerEndpoint: authorityHost + "/", tokenAudience: resource,
            resourceIdentifiers: .init(keyVault: resource), akvsConnectAddress: "\(connectHost(options.host)):\(port)")
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
        try write(String(decoding: try encoder.encode(environment), as: UTF8.self), to: cloudFile, mode: 0o644)
        let cloud = try AzureCloud.load(environmentFile: cloudFile.path)
        let credentials = EmulatorCredentials(
            tenantId: tenant, clientId: admin.clientId, clientSecret: admin.clientSecret ?? "", authorityHost: authorityHost,
            imdsEndpoint: "http://\(urlHost(options.imdsHost)):\(imdsPort)", adminEndpoint: "\(authorityHost)/_emulator", resource: resource,
            caFile: dir.appendingPathComponent("ca.pem").path, cloudEnvFile: cloudFile.path,
            vaultUrls: Dictionary(uniqueKeysWithValues: await state.vaultNames.map { ($0, cloud.vaultURL(name: $0).absoluteString) }))
        try write(String(decoding: try encoder.encode(credentials), as: UTF8.self), to: dir.appendingPathComponent("credentials.json"), mode: 0o600)
        return RunningEmulator(port: port, imdsPort: imdsPort, stateDirectory: dir, credentials: credentials, cloud: cloud, group: group, tasks: tasks)
    }

    /// `NAME.vault.localhost[:port]` → `NAME`.
    static func vaultName(fromHost host: String) -> String? {
        let name = host.split(separator: ":").first.map(String.init)?.lowercased() ?? ""
        guard name.hasSuffix(".vault.localhost") else { return nil }
        let vault = String(name.dropLast(".vault.localhost".count))
        return vault.isEmpty || vault.contains(".") ? nil : vault
    }

    static func freePort(host: String) async throws -> Int {
        let channel = try await ServerBootstrap(group: MultiThreadedEventLoopGroup.singleton).bind(host: host, port: 0).get()
        let port = channel.localAddress?.port
        try? await channel.close().get()
        guard let port else { throw EmulatorError.startup("could not pick a free port on \(host)") }
        return port
    }

    static func loadOrCreateKey(_ url: URL) throws -> P256.Signing.PrivateKey {
        if let pem = try? String(contentsOf: url, encoding: .utf8) { return try P256.Signing.PrivateKey(pemRepresentation: pem) }
        let key = P256.Signing.PrivateKey()
        try write(key.pemRepresentation, to: url, mode: 0o600)
        return key
    }

    static func write(_ text: String, to url: URL, mode: Int) throws {
        let temp = url.deletingLastPathComponent().appendingPathComponent(".\(url.lastPathComponent).tmp")
        guard FileManager.default.createFile(atPath: temp.path, contents: Data(text.utf8), attributes: [.posixPermissions: mode]),
              rename(temp.path, url.path) == 0 else {
            throw EmulatorError.startup("cannot write \(url.path): \(String(cString: strerror(errno)))")
        }
    }

    static func randomSecret() -> String {
        Base64URL.encode(SymmetricKey(size: .bits256).withUnsafeBytes { Array($0) })
    }

    static func isIP(_ host: String) -> Bool { host.allSatisfy { $0.isNumber || $0 == "." } || host.contains(":") }
    static func connectHost(_ host: String) -> String {
        if host == "0.0.0.0" { return "127.0.0.1" }
        if host == "::" { return "[::1]" }
        return host.contains(":") ? "[\(host)]" : host
    }
    static func urlHost(_ host: String) -> String { connectHost(host) }
}
