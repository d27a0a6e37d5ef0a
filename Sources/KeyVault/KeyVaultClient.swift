import AzureIdentity
import Foundation
import Logging
import NIOHTTP1

/// Reads (and, for seeding and tests, writes) secrets, keys and certificates of one vault.
public struct KeyVaultClient: Sendable {
    public let vaultURL: URL
    public let cloud: AzureCloud
    let credential: any TokenCredential
    let tokens: TokenCache
    let transport: HTTPTransport
    let limiter: ConcurrencyLimiter
    let retry: RetryPolicy
    let logger: Logger
    /// The api-version sent on every request.
    public static let apiVersion = "7.5"

    public init(vaultURL: URL, cloud: AzureCloud, credential: any TokenCredential, tokens: TokenCache, transport: HTTPTransport,
                limiter: ConcurrencyLimiter, retry: RetryPolicy = .default, logger: Logger = Logger(label: "akvs.keyvault")) throws(KeyVaultError) {
        guard vaultURL.scheme == "https", let host = vaultURL.host, !host.isEmpty else {
            throw .invalidInput(field: "vaultURL", value: vaultURL.absoluteString, reason: "must be an https URL such as https://myvault.vault.azure.net/")
        }
        self.vaultURL = vaultURL; self.cloud = cloud; self.credential = credential; self.tokens = tokens
        self.transport = transport; self.limiter = limiter; self.retry = retry; self.logger = logger
    }

    var vaultName: String { vaultURL.host?.split(separator: ".").first.map(String.init) ?? vaultURL.absoluteString }

    // MARK: Reads

    /// Gets a secret version (latest when `version` is empty).
    public func getSecret(_ name: String, version: String = "") async throws(KeyVaultError) -> SecretBundle {
        try KeyVaultValidation.objectName(name); try KeyVaultValidation.objectVersion(version)
        return try await send(.GET, path: "secrets/\(name)/\(version)", object: "secret \(name)", as: SecretBundle.self)
    }

    /// Gets a key version's public JWK.
    public func getKey(_ name: String, version: String = "") async throws(KeyVaultError) -> KeyBundle {
        try KeyVaultValidation.objectName(name); try KeyVaultValidation.objectVersion(version)
        return try await send(.GET, path: "keys/\(name)/\(version)", object: "key \(name)", as: KeyBundle.self)
    }

    /// Gets a certificate version (public DER in `cer`).
    public func getCertificate(_ name: String, version: String = "") async throws(KeyVaultError) -> CertificateBundle {
        try KeyVaultValidation.objectName(name); try KeyVaultValidation.objectVersion(version)
        return try await send(.GET, path: "certificates/\(name)/\(version)", object: "certificate \(name)", as: CertificateBundle.self)
    }

    /// Lists every version of an object, following nextLink pages.
    public func listVersions(_ kind: ObjectKind, name: String, pageSize: Int = 25) async throws(KeyVaultError) -> [ObjectItem] {
        try KeyVaultValidation.objectName(name)
        return try await listPaged(path: "\(kind.collection)/\(name)/versions", pageSize: pageSize, object: "\(kind.rawValue) \(name)")
    }

    /// Lists the objects of one kind in the vault (latest version of each).
    public func listObjects(_ kind: ObjectKind, pageSize: Int = 25) async throws(KeyVaultError) -> [ObjectItem] {
        try await listPaged(path: kind.collection, pageSize: pageSize, object: kind.collection)
    }

    func listPaged(path: String, pageSize: Int, object: String) async throws(KeyVaultError) -> [ObjectItem] {
        var page = try await send(.GET, path: path, query: [("maxresults", String(min(25, max(1, pageSize))))], object: object, as: ItemPage.self)
        var items = page.value
        var pages = 1
        while let next = page.nextLink, !next.isEmpty {
            pages += 1
            guard pages <= 10_000, let url = URL(string: next), url.host == vaultURL.host else {
                throw .malformedResponse(vault: vaultName, object: object, reason: "nextLink '\(next)' does not point at this vault")
            }
            page = try await send(.GET, url: url, object: object, as: ItemPage.self)
            items += page.value
        }
        return items
    }

    // MARK: Writes (seeding, demos, tests)

    /// Sets a secret, creating a new version.
    public func setSecret(_ name: String, value: String, contentType: String? = nil, tags: [String: String]? = nil) async throws(KeyVaultError) -> SecretBundle {
        try KeyVaultValidation.objectName(name)
        let body = SecretBundle(value: value, contentType: contentType, tags: tags)
        return try await send(.PUT, path: "secrets/\(name)", body: body, object: "secret \(name)", as: SecretBundle.self)
    }

    /// Enables or disables a secret version, or sets when it becomes valid and when it expires.
    public func updateSecret(_ name: String, version: String, enabled: Bool? = nil, notBefore: Date? = nil, expires: Date? = nil) async throws(KeyVaultError) -> SecretBundle {
        try KeyVaultValidation.objectName(name); try KeyVaultValidation.objectVersion(version)
        let body = SecretBundle(attributes: ObjectAttributes(enabled: enabled, nbf: notBefore.map { Int64($0.timeIntervalSince1970) },
                                                             exp: expires.map { Int64($0.timeIntervalSince1970) }))
        return try await send(.PATCH, path: "secrets/\(name)/\(version)", body: body, object: "secret \(name)", as: SecretBundle.self)
    }

    // MARK: Transport

    func send<T: Decodable>(_ method: HTTPMethod, path: String, query: [(String, String)] = [], body: (any Encodable & Sendable)? = nil,
                            object: String, as type: T.Type) async throws(KeyVaultError) -> T {
        var components = URLComponents(url: vaultURL, resolvingAgainstBaseURL: false)!
        components.path = "/" + path
        components.percentEncodedQuery = (query + [("api-version", Self.apiVersion)]).map { "\($0.0)=\(FormEncoding.escape($0.1))" }.joined(separator: "&")
        return try await send(method, url: components.url!, body: body, object: object, as: type)
    }

    func send<T: Decodable>(_ method: HTTPMethod, url: URL, body: (any Encodable & Sendable)? = nil, object: String, as type: T.Type) async throws(KeyVaultError) -> T {
        let url = Self.ensureAPIVersion(url)
        let payload: Data? = body.flatMap { try? JSONEncoder().encode($0) }
        let response = try await limiter.run { () async throws(KeyVaultError) -> HTTPExchangeResponse in
            try await exchange(method, url: url, body: payload, object: object)
        }
        return try Self.decodeReply(response.body, as: T.self, vault: vaultName, object: object)
    }

    /// Decodes a successful reply's body as `T`.
    static func decodeReply<T: Decodable>(_ body: Data, as type: T.Type, vault: String, object: String) throws(KeyVaultError) -> T {
        do {
            return try JSONDecoder().decode(T.self, from: body)
        } catch {
            throw .malformedResponse(vault: vault, object: object, reason: "cannot decode \(T.self): \(error)")
        }
    }

    /// Sends with a bearer token; retries transient failures, re-authenticates once on 401.
    func exchange(_ method: HTTPMethod, url: URL, body: Data?, object: String) async throws(KeyVaultError) -> HTTPExchangeResponse {
        var attempt = 0
        var reauthenticated = false
        var sent = 0
        while true {
            attempt += 1
            // The first request was paid for when the slot was taken; a retry is a request of its own and pays too.
            if sent > 0 { await limiter.spend() }
            sent += 1
            let token: AccessToken
            do { token = try await tokens.token(for: credential, scope: cloud.keyVaultScope) } catch { throw .authentication(error) }
            var headers = HTTPHeaders()
            headers.add(name: "Authorization", value: "Bearer \(token.token)")
            headers.add(name: "Accept", value: "application/json")
            headers.add(name: "x-ms-client-request-id", value: UUID().uuidString.lowercased())
            if body != nil { headers.add(name: "Content-Type", value: "application/json") }
            let response: HTTPExchangeResponse
            do {
                response = try await transport.send(method: method, url: url, headers: headers, body: body, connectAddress: cloud.connectAddress)
            } catch {
                transport.observer?.keyVaultReply(vault: vaultName, status: nil, error: "")
                if attempt < retry.maxAttempts {
                    logger.debug("retrying after transport error", metadata: ["vault": "\(vaultName)", "object": "\(object)", "attempt": "\(attempt)"])
                    try? await Task.sleep(for: retry.delay(afterAttempt: attempt, retryAfter: nil))
                    continue
                }
                throw .transport(error)
            }
            if (200..<300).contains(response.status) {
                transport.observer?.keyVaultReply(vault: vaultName, status: response.status, error: "")
                return response
            }
            let error = serviceError(response, object: object)
            transport.observer?.keyVaultReply(vault: vaultName, status: response.status, error: error.code ?? "")
            if response.status == 401, !reauthenticated {
                reauthenticated = true
                await tokens.invalidate(credential, scope: cloud.keyVaultScope)
                attempt -= 1
                continue
            }
            if error.isTransient, attempt < retry.maxAttempts {
                let after = RetryPolicy.parseRetryAfter(response.headers.first(name: "Retry-After"))
                if let after, after > Double(retry.maxRetryAfter.components.seconds) { throw error }
                logger.debug("retrying", metadata: ["vault": "\(vaultName)", "object": "\(object)", "status": "\(response.status)", "attempt": "\(attempt)"])
                try? await Task.sleep(for: retry.delay(afterAttempt: attempt, retryAfter: after))
                continue
            }
            throw error
        }
    }

    func serviceError(_ response: HTTPExchangeResponse, object: String) -> KeyVaultError {
        Self.serviceError(response, vault: vaultName, object: object)
    }

    /// The error an unsuccessful reply stands for: the service's code and message when the body has them.
    static func serviceError(_ response: HTTPExchangeResponse, vault vaultName: String, object: String) -> KeyVaultError {
        // A throttled reply says how long to wait: the message keeps it, so the mount error does too.
        let wait = response.status == 429 ? RetryPolicy.parseRetryAfter(response.headers.first(name: "Retry-After")).map { " (Retry-After \(retryAfterText($0)))" } ?? "" : ""
        if let body = try? JSONDecoder().decode(KeyVaultErrorBody.self, from: response.body) {
            return .service(status: response.status, code: body.error.code ?? "Unknown", innerCode: body.error.innererror?.code,
                            message: (body.error.message ?? "") + wait, vault: vaultName, object: object)
        }
        return .service(status: response.status, code: "HTTP\(response.status)", innerCode: nil, message: "no error body", vault: vaultName, object: object)
    }

    /// A Retry-After for a message; a hostile one (1e300, inf) would trap the Double → Int conversion (Fuzz/vault-responses).
    static func retryAfterText(_ seconds: Double) -> String {
        seconds < 86_400 ? "\(Int(seconds.rounded(.up))) s" : "over a day"
    }

    static func ensureAPIVersion(_ url: URL) -> URL {
        guard var components = URLComponents(url: url, resolvingAgainstBaseURL: false) else { return url }
        let items = components.queryItems ?? []
        if items.contains(where: { $0.name == "api-version" }) { return url }
        components.queryItems = items + [URLQueryItem(name: "api-version", value: apiVersion)]
        return components.url ?? url
    }
}
