#if canImport(Glibc)
import Glibc
#endif
import Foundation
import GRPCCore
import GRPCNIOTransportHTTP2
import Logging
import Serving
import ProviderAPI

/// What a provider's Mount returned: files for the driver to write and the object versions.
public struct ProviderMountResult: Sendable {
    public var files: [ProviderFile]
    public var objectVersions: [(id: String, version: String)]
    /// When each object version expires, where the provider says (the in-process Azure provider; the gRPC API has no field for it).
    public var expirations: [String: Date]

    public init(files: [ProviderFile], objectVersions: [(id: String, version: String)], expirations: [String: Date] = [:]) {
        self.files = files; self.objectVersions = objectVersions; self.expirations = expirations
    }
}

/// One file of a Mount reply, path relative to the target.
public struct ProviderFile: Sendable, Equatable {
    public var path: String
    public var mode: Int32
    public var contents: [UInt8]

    public init(path: String, mode: Int32, contents: [UInt8]) { self.path = path; self.mode = mode; self.contents = contents }
}

/// gRPC clients of the providers on this node (`<dir>/<provider>.sock`), one cached connection each,
/// as upstream: unix socket, plaintext, retry on UNAVAILABLE. Shared by the CSI driver and the sync controller.
public actor ProviderClients {
    private struct Entry {
        var generation: Int
        var socket: String
        /// The socket file's identity: a restarted provider makes a new socket, and the old connection is not reused.
        var identity: SocketIdentity
        var client: GRPCClient<HTTP2ClientTransport.Posix>
        var connections: Task<Void, Never>
    }
    private var entries: [String: Entry] = [:]
    private var generations = 0
    let searchPaths: [String]
    let maxMessageBytes: Int
    let timeout: Duration
    let logger: Logger

    /// Provider names as upstream accepts them: `^[a-zA-Z0-9_-]{0,30}$` (and not empty).
    static func validName(_ name: String) -> Bool {
        !name.isEmpty && name.count <= 30 && name.allSatisfy { $0.isASCII && ($0.isLetter || $0.isNumber || $0 == "_" || $0 == "-") }
    }

    /// `searchPaths` in lookup order (upstream: the additional paths, then `--provider-volume`).
    public init(searchPaths: [String], maxMessageBytes: Int = 4 * 1024 * 1024, timeout: Duration = .seconds(60), logger: Logger) {
        self.searchPaths = searchPaths
        self.maxMessageBytes = maxMessageBytes
        self.timeout = timeout
        self.logger = logger
    }

    /// The socket of `provider`: the first `<dir>/<provider>.sock` that exists, additional paths first.
    func socket(for provider: String) throws(ProviderCallError) -> String {
        guard Self.validName(provider) else {
            throw .invalidName(provider)
        }
        let candidates = searchPaths.map { ($0 as NSString).appendingPathComponent("\(provider).sock") }
        for path in candidates where FileManager.default.fileExists(atPath: path) {
            // A socket left by a crashed provider would make gRPC retry until the timeout: tell at once instead.
            guard Self.accepts(path) else {
                throw .call(provider: provider, code: "unavailable", message: "nothing accepts connections on \(path); the provider is not running (restarting?)")
            }
            return path
        }
        throw .notFound(provider: provider, searched: candidates)
    }

    /// Whether a process listens on the unix socket at `path` (one connect, closed at once).
    static func accepts(_ path: String) -> Bool {
        let fd = Glibc.socket(AF_UNIX, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { return true }
        defer { close(fd) }
        var address = sockaddr_un()
        address.sun_family = sa_family_t(AF_UNIX)
        let capacity = MemoryLayout.size(ofValue: address.sun_path)
        guard path.utf8.count < capacity else { return true }
        withUnsafeMutableBytes(of: &address.sun_path) { buffer in
            for (i, byte) in path.utf8.enumerated() { buffer[i] = byte }
            buffer[path.utf8.count] = 0
        }
        let result = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_un>.size)) }
        }
        return result == 0 || (errno != ECONNREFUSED && errno != ENOENT)
    }

    /// Calls Mount on `provider`; `attributes` and `secrets` go on the wire as JSON objects, as upstream sends them.
    public func mount(provider: String, attributes: [String: String], secrets: [String: String], permission: String = "420",
                      targetPath: String) async throws(ProviderCallError) -> ProviderMountResult {
        var request = V1alpha1_MountRequest()
        request.attributes = Self.json(attributes)
        request.secrets = Self.json(secrets)
        request.permission = permission
        request.targetPath = targetPath
        var options = CallOptions.defaults
        options.timeout = timeout
        options.maxResponseMessageBytes = maxMessageBytes
        var reply: V1alpha1_MountResponse?
        for attempt in 0..<2 {
            let (client, generation) = try client(for: provider)
            do {
                reply = try await V1alpha1_CSIDriverProvider.Client(wrapping: client).mount(request, options: options)
                break
            } catch let error as RPCError {
                if error.code == .deadlineExceeded {
                    // Not retried: a second full timeout would outlast kubelet's (2 minutes). A provider that cannot
                    // answer within the timeout is waiting on a vault or Entra that does not answer: an outage.
                    throw .call(provider: provider, code: "\(error.code)", message: "no answer within \(timeout): \(error.message)", outage: true)
                }
                guard error.code == .unavailable else {
                    let failureClass = error.metadata[stringValues: MountFailureTrailer.key].first { _ in true } ?? ""
                    throw .call(provider: provider, code: "\(error.code)", message: error.message, outage: ["throttled", "unreachable"].contains(failureClass))
                }
                // A provider restarted on the same socket leaves the cached connection failed: reconnect once.
                drop(provider, generation: generation)
                if attempt == 1 { throw .call(provider: provider, code: "\(error.code)", message: error.message) }
            } catch {
                throw .call(provider: provider, code: "unknown", message: "\(error)")
            }
        }
        guard let reply else { throw .call(provider: provider, code: "unknown", message: "no reply") }
        if !reply.error.code.isEmpty { throw .errorCode(provider: provider, code: reply.error.code) }
        return ProviderMountResult(files: reply.files.map { ProviderFile(path: $0.path, mode: $0.mode, contents: Array($0.contents)) },
                                   objectVersions: reply.objectVersion.map { ($0.id, $0.version) })
    }

    /// A JSON object of strings, keys sorted. Written directly: JSONSerialization cost 7 % of the driver's CPU per
    /// publish (perf, `akvs-kube-bench csi`).
    static func json(_ map: [String: String]) -> String {
        var out: [UInt8] = [UInt8(ascii: "{")]
        out.reserveCapacity(map.reduce(2) { $0 + $1.key.utf8.count + $1.value.utf8.count + 6 })
        for (index, entry) in map.sorted(by: { $0.key < $1.key }).enumerated() {
            if index > 0 { out.append(UInt8(ascii: ",")) }
            appendJSONString(entry.key, to: &out)
            out.append(UInt8(ascii: ":"))
            appendJSONString(entry.value, to: &out)
        }
        out.append(UInt8(ascii: "}"))
        return String(decoding: out, as: UTF8.self)
    }

    /// A JSON string literal (RFC 8259): quote, backslash and control characters escaped, everything else as UTF-8.
    static func appendJSONString(_ text: String, to out: inout [UInt8]) {
        let hex = Array("0123456789abcdef".utf8)
        out.append(UInt8(ascii: "\""))
        for byte in text.utf8 {
            switch byte {
            case UInt8(ascii: "\""), UInt8(ascii: "\\"): out += [UInt8(ascii: "\\"), byte]
            case UInt8(ascii: "\n"): out += [UInt8(ascii: "\\"), UInt8(ascii: "n")]
            case UInt8(ascii: "\r"): out += [UInt8(ascii: "\\"), UInt8(ascii: "r")]
            case UInt8(ascii: "\t"): out += [UInt8(ascii: "\\"), UInt8(ascii: "t")]
            case 0..<0x20: out += [UInt8(ascii: "\\"), UInt8(ascii: "u"), UInt8(ascii: "0"), UInt8(ascii: "0"), hex[Int(byte >> 4)], hex[Int(byte & 0xf)]]
            default: out.append(byte)
            }
        }
        out.append(UInt8(ascii: "\""))
    }

    private func client(for provider: String) throws(ProviderCallError) -> (client: GRPCClient<HTTP2ClientTransport.Posix>, generation: Int) {
        let path = try socket(for: provider)
        let identity = SocketIdentity(path)
        if let entry = entries[provider], entry.socket == path, entry.identity == identity { return (entry.client, entry.generation) }
        if let stale = entries.removeValue(forKey: provider) { stale.client.beginGracefulShutdown() }
        // Retry only UNAVAILABLE (provider restarting), 3 attempts with 1s→10s backoff as upstream; not waitForReady,
        // so a provider that is down fails the call in seconds with a clear error and kubelet retries the mount.
        let retry = RetryPolicy(maxAttempts: 3, initialBackoff: .seconds(1), maxBackoff: .seconds(10), backoffMultiplier: 1.1,
                                retryableStatusCodes: [.unavailable])
        let service = ServiceConfig(methodConfig: [MethodConfig(names: [.init(service: "v1alpha1.CSIDriverProvider")], waitForReady: false,
                                                                executionPolicy: .retry(retry))])
        let transport: HTTP2ClientTransport.Posix
        do {
            transport = try HTTP2ClientTransport.Posix(target: .unixDomainSocket(path: path, authority: "localhost"), transportSecurity: .plaintext,
                                                       config: .defaults, serviceConfig: service)
        } catch {
            throw .call(provider: provider, code: "unavailable", message: "cannot create a client for \(path): \(error)")
        }
        let client = GRPCClient(transport: transport)
        let connections = Task { _ = try? await client.runConnections() }
        generations += 1
        entries[provider] = Entry(generation: generations, socket: path, identity: identity, client: client, connections: connections)
        return (client, generations)
    }

    /// Forgets the client that failed, unless a concurrent call already replaced it; the next call connects afresh.
    private func drop(_ provider: String, generation: Int) {
        guard let entry = entries[provider], entry.generation == generation else { return }
        entries[provider] = nil
        entry.client.beginGracefulShutdown()
    }

    /// Closes every connection.
    public func shutdown() async {
        let all = entries.values
        entries = [:]
        for entry in all {
            entry.client.beginGracefulShutdown()
            await entry.connections.value
        }
    }
}

/// A provider call that failed; messages name the provider, the socket and the fix.
public enum ProviderCallError: Error, CustomStringConvertible, Sendable, Equatable {
    case invalidName(String)
    case notFound(provider: String, searched: [String])
    /// `outage`: the provider said the vault or Entra could not be reached or kept throttling (akvs providers send the
    /// `akvs-failure-class` trailer; upstream providers do not, so their failures never count as one).
    case call(provider: String, code: String, message: String, outage: Bool = false)
    case errorCode(provider: String, code: String)

    /// Whether the provider reported a vault or Entra outage (never true for access, configuration or missing objects).
    public var isOutage: Bool {
        if case .call(_, _, _, let outage) = self { return outage }
        return false
    }

    public var description: String {
        switch self {
        case .invalidName(let p):
            return "provider '\(p)' is not a valid provider name: use 1-30 characters of [a-zA-Z0-9_-] in the SecretProviderClass spec.provider"
        case .notFound(let p, let searched):
            return "provider '\(p)' is not running on this node: no socket at \(searched.joined(separator: " or ")); install the \(p) provider DaemonSet or fix spec.provider"
        case .call(let p, let code, let message, _):
            return "provider '\(p)' Mount failed (\(code)): \(message)"
        case .errorCode(let p, let code):
            return "mount request failed with provider error code \(code) (provider '\(p)')"
        }
    }
}
