import AzureIdentity
import Crypto
import Foundation
import Synchronization

/// Claims of an access token the vault accepted.
struct AccessClaims: Sendable {
    var clientID: String
    var tenantID: String
}

/// Mints and checks the emulator's Entra access tokens (ES256), and its OIDC issuer's tokens.
struct TokenService: Sendable {
    let signingKey: P256.Signing.PrivateKey
    let issuerKey: P256.Signing.PrivateKey
    let tenantID: String
    let resource: String
    /// URL of the emulator's own OIDC issuer (for workload-identity tests and demos).
    let oidcIssuer: String
    var tokenLifetime: TimeInterval = 3599
    /// Tokens already verified, so a signature is checked once per token rather than per request.
    let verified = VerifiedTokens()

    static let signingKeyID = "akvs-emulator-entra"
    static let issuerKeyID = "akvs-emulator-oidc"

    var accessTokenIssuer: String { "https://sts.windows.net/\(tenantID)/" }

    func mintAccessToken(for identity: IdentityRecord, resource audience: String, now: Date = Date()) throws -> String {
        let iat = now.timeIntervalSince1970.rounded(.down)
        return try JWT.sign(claims: [
            "aud": .string(audience), "iss": .string(accessTokenIssuer), "tid": .string(tenantID),
            "appid": .string(identity.clientID), "azp": .string(identity.clientID), "oid": .string(identity.objectID),
            "sub": .string(identity.objectID), "idtyp": .string("app"), "ver": .string("1.0"),
            "iat": .number(iat), "nbf": .number(iat - 300), "exp": .number(iat + tokenLifetime),
            "uti": .string(UUID().uuidString),
        ], key: signingKey, keyID: Self.signingKeyID)
    }

    /// Why an access token is not good for this vault, as Key Vault words it.
    enum Rejection: Error { case malformed, badSignature, expired, audience(String), issuer(String) }

    func validateAccessToken(_ token: String, now: Date = Date()) -> Result<AccessClaims, Rejection> {
        if let claims = verified.lookup(token, now: now.timeIntervalSince1970) { return .success(claims) }
        let result = verifyAccessToken(token, now: now)
        if case .success(let claims) = result, let exp = JWT(compact: token)?.number("exp") {
            verified.store(token, claims: claims, expires: exp)
        }
        return result
    }

    private func verifyAccessToken(_ token: String, now: Date) -> Result<AccessClaims, Rejection> {
        guard let jwt = JWT(compact: token) else { return .failure(.malformed) }
        guard jwt.verify(with: publicJWK(of: signingKey, keyID: Self.signingKeyID)) else { return .failure(.badSignature) }
        let t = now.timeIntervalSince1970
        guard let exp = jwt.number("exp"), exp > t - 300 else { return .failure(.expired) }
        if let nbf = jwt.number("nbf"), nbf > t + 300 { return .failure(.expired) }
        let audiences = jwt.audiences.map { $0.hasSuffix("/") ? String($0.dropLast()) : $0 }
        guard audiences.contains(resource) else { return .failure(.audience(jwt.audiences.joined(separator: ","))) }
        guard jwt.string("tid") == tenantID, jwt.string("iss") == accessTokenIssuer else { return .failure(.issuer(jwt.string("iss") ?? "")) }
        guard let client = jwt.string("appid") else { return .failure(.malformed) }
        return .success(AccessClaims(clientID: client, tenantID: tenantID))
    }

    /// A service-account-like token from the emulator's OIDC issuer.
    func mintIssuerToken(subject: String, audience: String, lifetime: TimeInterval, now: Date = Date()) throws -> String {
        let iat = now.timeIntervalSince1970.rounded(.down)
        return try JWT.sign(claims: [
            "iss": .string(oidcIssuer), "sub": .string(subject), "aud": .array([.string(audience)]),
            "iat": .number(iat), "nbf": .number(iat), "exp": .number(iat + lifetime), "jti": .string(UUID().uuidString),
        ], key: issuerKey, keyID: Self.issuerKeyID)
    }

    var issuerJWKS: JSONValue { .object(["keys": .array([publicJWK(of: issuerKey, keyID: Self.issuerKeyID)])]) }
}

/// A bounded map of verified access tokens to their claims, dropped at expiry.
final class VerifiedTokens: Sendable {
    private let entries = Mutex<[String: (claims: AccessClaims, expires: Double)]>([:])
    private let capacity = 10_000

    func lookup(_ token: String, now: Double) -> AccessClaims? {
        entries.withLock { map in
            guard let entry = map[token] else { return nil }
            if entry.expires <= now { map[token] = nil; return nil }
            return entry.claims
        }
    }

    func store(_ token: String, claims: AccessClaims, expires: Double) {
        entries.withLock { map in
            if map.count >= capacity { map.removeAll(keepingCapacity: true) }
            map[token] = (claims, expires)
        }
    }
}
