import Foundation

/// Service principal with a client secret (the nodePublishSecretRef `clientid`/`clientsecret` mode).
public struct ClientSecretCredential: TokenCredential {
    public let tenantID: String
    public let clientID: String
    private let secret: String
    private let client: EntraTokenClient

    public init(tenantID: String, clientID: String, clientSecret: String, cloud: AzureCloud, transport: HTTPTransport, retry: RetryPolicy = .default) throws(IdentityError) {
        try IdentityValidation.tenantID(tenantID)
        try IdentityValidation.clientID(clientID, field: "clientid")
        if clientSecret.isEmpty { throw .invalidInput(field: "clientsecret", value: "", reason: "it is empty; put the service principal's secret in the clientsecret key") }
        self.tenantID = tenantID
        self.clientID = clientID
        self.secret = clientSecret
        self.client = EntraTokenClient(transport: transport, cloud: cloud, tenantID: tenantID, retry: retry)
    }

    public var fingerprint: String {
        "secret:" + fingerprintDigest(client.cloud.activeDirectoryEndpoint.absoluteString, tenantID, clientID, secret)
    }

    public func requestToken(scope: String) async throws(IdentityError) -> AccessToken {
        try await client.requestToken(form: [
            ("client_id", clientID), ("grant_type", "client_credentials"),
            ("client_secret", secret), ("scope", scope),
        ])
    }
}

/// Where a client assertion (federated service-account token) comes from.
public enum AssertionSource: Sendable {
    /// A token given by the caller (e.g. from the CSI driver's serviceAccount.tokens).
    case token(String)
    /// A projected token file, re-read on every request because kubelet rotates it.
    case file(String)
}

/// Workload identity: a federated token exchanged for an Entra token (client assertion grant).
public struct ClientAssertionCredential: TokenCredential {
    public let tenantID: String
    public let clientID: String
    private let source: AssertionSource
    private let client: EntraTokenClient

    public init(tenantID: String, clientID: String, assertion: AssertionSource, cloud: AzureCloud, transport: HTTPTransport, retry: RetryPolicy = .default) throws(IdentityError) {
        try IdentityValidation.tenantID(tenantID)
        try IdentityValidation.clientID(clientID)
        self.tenantID = tenantID
        self.clientID = clientID
        self.source = assertion
        self.client = EntraTokenClient(transport: transport, cloud: cloud, tenantID: tenantID, retry: retry)
    }

    public var fingerprint: String {
        // Each distinct service-account token must itself be exchanged once before it gets a cached token.
        let assertion = (try? loadAssertion()) ?? "unreadable"
        return "assertion:" + fingerprintDigest(client.cloud.activeDirectoryEndpoint.absoluteString, tenantID, clientID, assertion)
    }

    public var identityKey: String {
        // Issuer, subject and audience name the workload; pods of one service account share results.
        let claims = (try? loadAssertion()).flatMap(JWTClaimsPeek.issuerSubjectAudience) ?? "unreadable"
        return "workload:" + fingerprintDigest(client.cloud.activeDirectoryEndpoint.absoluteString, tenantID, clientID, claims)
    }

    func loadAssertion() throws(IdentityError) -> String {
        switch source {
        case .token(let token):
            guard !token.isEmpty else { throw .assertionUnavailable(reason: "the service-account token is empty") }
            return token
        case .file(let path):
            guard let data = FileManager.default.contents(atPath: path), let text = String(data: data, encoding: .utf8) else {
                throw .assertionUnavailable(reason: "cannot read federated token file '\(path)'; check AZURE_FEDERATED_TOKEN_FILE and the projected volume")
            }
            let token = text.trimmingCharacters(in: .whitespacesAndNewlines)
            guard !token.isEmpty else { throw .assertionUnavailable(reason: "federated token file '\(path)' is empty") }
            return token
        }
    }

    public func requestToken(scope: String) async throws(IdentityError) -> AccessToken {
        let assertion = try loadAssertion()
        return try await client.requestToken(form: [
            ("client_assertion", assertion),
            ("client_assertion_type", "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"),
            ("client_id", clientID), ("grant_type", "client_credentials"), ("scope", scope),
        ])
    }
}

/// Reads unverified claims of a JWT for cache partitioning only (never for trust decisions).
enum JWTClaimsPeek {
    static func issuerSubjectAudience(_ jwt: String) -> String? {
        let parts = jwt.split(separator: ".")
        guard parts.count == 3, let payload = Base64URL.decode(String(parts[1])),
              let object = try? JSONSerialization.jsonObject(with: payload) as? [String: Any] else { return nil }
        let aud = (object["aud"] as? String) ?? ((object["aud"] as? [String])?.joined(separator: ",") ?? "")
        return "\(object["iss"] as? String ?? "")|\(object["sub"] as? String ?? "")|\(aud)"
    }
}

/// base64url without padding (JWT, JWK).
public enum Base64URL {
    public static func encode<D: Sequence>(_ bytes: D) -> String where D.Element == UInt8 {
        Data(bytes).base64EncodedString()
            .replacingOccurrences(of: "+", with: "-")
            .replacingOccurrences(of: "/", with: "_")
            .replacingOccurrences(of: "=", with: "")
    }

    public static func decode(_ text: String) -> Data? {
        var s = text.replacingOccurrences(of: "-", with: "+").replacingOccurrences(of: "_", with: "/")
        while s.count % 4 != 0 { s += "=" }
        return Data(base64Encoded: s)
    }
}
