import AsyncHTTPClient
import Foundation
import NIOCore
import NIOFoundationCompat
import NIOHTTP1
import NIOSSL

/// One HTTP exchange as the Azure clients see it.
public struct HTTPExchangeResponse: Sendable {
    public var status: Int
    public var headers: HTTPHeaders
    public var body: Data

    public init(status: Int, headers: HTTPHeaders, body: Data) {
        self.status = status; self.headers = headers; self.body = body
    }
}

/// Where the Azure clients report each reply they get (every attempt, retries included), for metrics: the HTTP
/// status (nil when no reply came: a connection failure or timeout) and the service's error code, never a value.
public protocol AzureReplyObserver: Sendable {
    /// A Key Vault reply; `error` is Key Vault's error code (`SecretNotFound`, `Throttled`, …) or empty.
    func keyVaultReply(vault: String, status: Int?, error: String)
    /// An Entra ID token reply; `aadsts` is the first AADSTS code (`AADSTS700016`) or empty.
    func entraReply(tenant: String, status: Int?, aadsts: String)
}

/// Sends requests over a shared `HTTPClient`, with per-call timeouts and an optional connect override.
public struct HTTPTransport: Sendable {
    public let client: HTTPClient
    /// Upper bound of one request, connection included.
    public var timeout: TimeAmount
    /// Largest response body accepted (a vault reply is small; this bounds a hostile one).
    public var maxBodyBytes: Int
    /// Told about every Key Vault and Entra reply (metrics); nil reports nothing.
    public var observer: (any AzureReplyObserver)?

    public init(client: HTTPClient, timeout: TimeAmount = .seconds(30), maxBodyBytes: Int = 4 << 20, observer: (any AzureReplyObserver)? = nil) {
        self.client = client; self.timeout = timeout; self.maxBodyBytes = maxBodyBytes; self.observer = observer
    }

    /// Makes a client that trusts the system roots (or, as Go and OpenSSL programs do, the certificates named by
    /// `SSL_CERT_FILE` / `SSL_CERT_DIR`) plus the PEM certificates in `additionalCAFile`.
    public static func makeClient(additionalCAFile: String? = nil, environment: [String: String] = ProcessInfo.processInfo.environment,
                                  eventLoopGroup: any EventLoopGroup = HTTPClient.defaultEventLoopGroup) throws(TrustError) -> HTTPClient {
        var tls = TLSConfiguration.makeClientConfiguration()
        if let roots = try TrustStore.environmentRoots(environment) { tls.trustRoots = .certificates(roots) }
        if let file = additionalCAFile {
            tls.additionalTrustRoots = [.certificates(try TrustStore.certificates(file: file, source: "--ca-file"))]
        }
        var config = HTTPClient.Configuration(tlsConfiguration: tls)
        config.timeout = .init(connect: .seconds(10), read: .seconds(30))
        config.connectionPool = .init(idleTimeout: .seconds(60), concurrentHTTP1ConnectionsPerHostSoftLimit: 64)
        // A failed connection (refused, reset, untrusted certificate) fails the request at once: our own retry
        // policy decides, with backoff, and never retries a certificate that does not verify. The pool's own
        // retries would otherwise keep a TLS failure waiting until the request's deadline.
        config.connectionPool.retryConnectionEstablishment = false
        config.decompression = .disabled
        config.redirectConfiguration = .disallow
        return HTTPClient(eventLoopGroupProvider: .shared(eventLoopGroup), configuration: config)
    }

    /// Sends a request; `connectAddress` (`host:port`) redirects the TCP connection but keeps the Host header.
    public func send(method: HTTPMethod, url: URL, headers: HTTPHeaders = [:], body: Data? = nil, connectAddress: String? = nil) async throws(TransportError) -> HTTPExchangeResponse {
        var target = url
        var headers = headers
        if let address = connectAddress, var components = URLComponents(url: url, resolvingAgainstBaseURL: false) {
            let hostHeader = url.port.map { "\(url.host ?? ""):\($0)" } ?? (url.host ?? "")
            headers.replaceOrAdd(name: "Host", value: hostHeader)
            let (host, port) = Self.split(address)
            components.host = host
            components.port = port
            target = components.url ?? url
        }
        var request = HTTPClientRequest(url: target.absoluteString)
        request.method = method
        request.headers = headers
        if let body { request.body = .bytes(ByteBuffer(data: body)) }
        do {
            let response = try await client.execute(request, timeout: timeout)
            let buffer = try await response.body.collect(upTo: maxBodyBytes)
            return HTTPExchangeResponse(status: Int(response.status.code), headers: response.headers, body: Data(buffer: buffer))
        } catch let error as HTTPClientError where error == .deadlineExceeded || error == .readTimeout || error == .connectTimeout {
            throw .timeout(host: url.host ?? "")
        } catch is NIOTooManyBytesError {
            throw .failed(host: url.host ?? "", reason: "the reply is larger than the \(maxBodyBytes)-byte limit for one reply; the endpoint is not a Key Vault or Entra ID service, check the vault name and cloud")
        } catch {
            if let reason = TrustStore.verificationFailure(error) { throw .untrusted(host: url.host ?? "", reason: reason) }
            throw .failed(host: url.host ?? "", reason: String(describing: error))
        }
    }

    static func split(_ address: String) -> (String, Int?) {
        if address.hasPrefix("["), let close = address.firstIndex(of: "]") {
            let host = String(address[address.index(after: address.startIndex)..<close])
            let rest = address[address.index(after: close)...]
            return (host, rest.hasPrefix(":") ? Int(rest.dropFirst()) : nil)
        }
        if let colon = address.lastIndex(of: ":") {
            return (String(address[..<colon]), Int(address[address.index(after: colon)...]))
        }
        return (address, nil)
    }
}

/// A request that got no HTTP answer.
public enum TransportError: Error, CustomStringConvertible, Equatable {
    case timeout(host: String)
    case failed(host: String, reason: String)
    /// The server's TLS certificate did not verify: retrying cannot help.
    case untrusted(host: String, reason: String)

    public var description: String {
        switch self {
        case .timeout(let host): return "request to \(host) timed out; check network reachability of the host and its load"
        case .failed(let host, let reason): return "request to \(host) failed: \(reason)"
        case .untrusted(let host, let reason):
            return "the TLS certificate of \(host) is not trusted (\(reason)); give the CA that signed it with --ca-file, "
                + "or set SSL_CERT_FILE / SSL_CERT_DIR to a CA bundle that contains it (private-CA clouds such as Azure Stack Hub)"
        }
    }

    /// Whether retrying may help.
    public var isTransient: Bool {
        if case .untrusted = self { return false }
        return true
    }
}
