import AsyncHTTPClient
import Foundation
import Logging
import NIOCore
import NIOFoundationCompat
import NIOHTTP1
import NIOSSL
import SecretsStoreAPI
import StructuredJSON

/// A Kubernetes API client over HTTP/1.1 (AsyncHTTPClient): typed CRUD, patch and apply, watch, TokenRequest.
public final class KubernetesClient: Sendable {
    public let configuration: KubernetesConfiguration
    let http: HTTPClient
    let logger: Logger
    /// 429 answers are retried this many times, waiting as `Retry-After` says (capped).
    let maxThrottleRetries: Int

    public init(configuration: KubernetesConfiguration, logger: Logger = Logger(label: "akvs.kubernetes"), maxThrottleRetries: Int = 5) throws {
        var tls = TLSConfiguration.makeClientConfiguration()
        do {
            if let ca = configuration.certificateAuthorityPEM {
                tls.trustRoots = .certificates(try NIOSSLCertificate.fromPEMBytes(Array(ca.utf8)))
            }
            if let cert = configuration.clientCertificatePEM, let key = configuration.clientKeyPEM {
                tls.certificateChain = try NIOSSLCertificate.fromPEMBytes(Array(cert.utf8)).map { .certificate($0) }
                tls.privateKey = .privateKey(try NIOSSLPrivateKey(bytes: Array(key.utf8), format: .pem))
            }
        } catch {
            throw KubernetesError.configuration("the CA or client certificate/key is not valid PEM: \(error)")
        }
        if configuration.insecureSkipTLSVerify { tls.certificateVerification = .none }
        var http = HTTPClient.Configuration(tlsConfiguration: tls)
        http.timeout = .init(connect: .seconds(10))
        http.connectionPool = .init(idleTimeout: .seconds(60))
        http.decompression = .enabled(limit: .ratio(50))
        self.http = HTTPClient(eventLoopGroupProvider: .singleton, configuration: http)
        self.configuration = configuration
        self.logger = logger
        self.maxThrottleRetries = maxThrottleRetries
    }

    /// Closes connections; call once when done.
    public func shutdown() async {
        try? await http.shutdown()
    }

    // MARK: paths

    static func path(_ kind: ResourceKind, namespace: String?, name: String? = nil, subresource: String? = nil) -> String {
        var path = kind.groupVersionPath
        if kind.namespaced, let namespace { path += "/namespaces/\(escape(namespace))" }
        path += "/\(kind.plural)"
        if let name { path += "/\(escape(name))" }
        if let subresource { path += "/\(subresource)" }
        return path
    }

    static func escape(_ segment: String) -> String {
        segment.addingPercentEncoding(withAllowedCharacters: .urlPathAllowed.subtracting(CharacterSet(charactersIn: "/?#"))) ?? segment
    }

    static func query(_ items: [(String, String?)]) -> String {
        let pairs = items.compactMap { key, value in
            value.map { "\(key)=\($0.addingPercentEncoding(withAllowedCharacters: .alphanumerics.union(CharacterSet(charactersIn: "-._~"))) ?? $0)" }
        }
        return pairs.isEmpty ? "" : "?" + pairs.joined(separator: "&")
    }

    // MARK: transport

    struct Reply {
        var status: Int
        var body: ByteBuffer
    }

    /// One API call: authentication (re-reading a rotated token after a 401), 429 retries, Status errors.
    func send(_ method: HTTPMethod, _ pathAndQuery: String, body: Data? = nil, contentType: String = "application/json") async throws -> Reply {
        var forceTokenReload = false
        var attempt = 0
        while true {
            attempt += 1
            let request = try await makeRequest(method, pathAndQuery, body: body, contentType: contentType, forceTokenReload: forceTokenReload)
            let response: HTTPClientResponse
            let buffer: ByteBuffer
            do {
                response = try await http.execute(request, timeout: .init(configuration.requestTimeout))
                buffer = try await response.body.collect(upTo: 256 << 20)
            } catch {
                throw KubernetesError.transport("\(method) \(pathAndQuery): \(error)")
            }
            let code = Int(response.status.code)
            if (200..<300).contains(code) { return Reply(status: code, body: buffer) }
            let error = Self.error(code: code, headers: response.headers, body: buffer)
            if code == 401, configuration.token?.isFile == true, !forceTokenReload {
                forceTokenReload = true
                continue
            }
            if code == 429, attempt <= maxThrottleRetries {
                let wait = min(Double(error.retryAfter ?? 1), 30)
                logger.debug("kubernetes API throttled; retrying", metadata: ["path": "\(pathAndQuery)", "retryAfterSeconds": "\(wait)"])
                try await Task.sleep(for: .seconds(wait))
                continue
            }
            throw error.error
        }
    }

    func makeRequest(_ method: HTTPMethod, _ pathAndQuery: String, body: Data?, contentType: String, forceTokenReload: Bool) async throws -> HTTPClientRequest {
        var base = configuration.server.absoluteString
        while base.hasSuffix("/") { base.removeLast() }
        var request = HTTPClientRequest(url: base + pathAndQuery)
        request.method = method
        request.headers.add(name: "Accept", value: "application/json")
        request.headers.add(name: "User-Agent", value: configuration.userAgent)
        if let token = configuration.token {
            let value = try await token.token(forceReload: forceTokenReload)
            if !value.isEmpty { request.headers.add(name: "Authorization", value: "Bearer \(value)") }
        }
        if let body {
            request.headers.add(name: "Content-Type", value: contentType)
            request.body = .bytes(ByteBuffer(data: body))
        }
        return request
    }

    static func error(code: Int, headers: HTTPHeaders, body: ByteBuffer) -> (error: KubernetesError, retryAfter: Int?) {
        let retryAfter = headers.first(name: "Retry-After").flatMap { Int($0.trimmingCharacters(in: .whitespaces)) }
        let status = try? JSONValue.parse(Data(buffer: body))
        let reason = status?["reason"]?.stringValue ?? HTTPResponseStatus(statusCode: code).reasonPhrase
        let message = status?["message"]?.stringValue ?? String(buffer: body).prefix(300).description
        return (.api(code: code, reason: reason, message: message, retryAfterSeconds: retryAfter), retryAfter)
    }

    static func decode<T: Decodable>(_ type: T.Type, _ buffer: ByteBuffer) throws -> T {
        do { return try JSONDecoder().decode(T.self, from: buffer) } catch {
            throw KubernetesError.invalidResponse("cannot decode \(T.self): \(error)")
        }
    }

    static func encode(_ value: some Encodable) throws -> Data {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        do { return try encoder.encode(value) } catch { throw KubernetesError.invalidResponse("cannot encode \(type(of: value)): \(error)") }
    }
}
