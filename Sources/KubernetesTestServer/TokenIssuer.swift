import Crypto
import Foundation
import StructuredJSON

/// Issues service-account tokens (ES256 JWTs) and publishes the keys, like kube-apiserver's OIDC issuer,
/// so an identity provider (e.g. the emulator's Entra endpoint) can be told to trust them.
public struct TokenIssuer: Sendable {
    public let issuer: String
    let key: P256.Signing.PrivateKey
    public let keyID: String

    init(issuer: String, key: P256.Signing.PrivateKey = P256.Signing.PrivateKey()) {
        self.issuer = issuer
        self.key = key
        self.keyID = Self.base64URL(Data(SHA256.hash(data: key.publicKey.derRepresentation)).prefix(16))
    }

    /// The JWKS document (`/openid/v1/jwks`).
    public var jwks: JSONValue { ["keys": [publicJWK]] }

    public var publicJWK: JSONValue {
        let raw = key.publicKey.rawRepresentation
        return ["kty": "EC", "crv": "P-256", "alg": "ES256", "use": "sig", "kid": .string(keyID),
                "x": .string(Self.base64URL(raw.prefix(32))), "y": .string(Self.base64URL(raw.suffix(32)))]
    }

    var discovery: JSONValue {
        ["issuer": .string(issuer), "jwks_uri": .string("\(issuer)/openid/v1/jwks"), "response_types_supported": ["id_token"],
         "subject_types_supported": ["public"], "id_token_signing_alg_values_supported": ["ES256"]]
    }

    func token(namespace: String, serviceAccount: String, serviceAccountUID: String, audiences: [String], expirationSeconds: Int, now: Date = Date()) throws -> (token: String, expires: Date) {
        let iat = Int(now.timeIntervalSince1970)
        let exp = iat + expirationSeconds
        let claims: JSONValue = [
            "iss": .string(issuer), "sub": .string("system:serviceaccount:\(namespace):\(serviceAccount)"),
            "aud": .array(audiences.map { .string($0) }), "iat": .number(Double(iat)), "nbf": .number(Double(iat)), "exp": .number(Double(exp)),
            "jti": .string(UUID().uuidString.lowercased()),
            "kubernetes.io": ["namespace": .string(namespace), "serviceaccount": ["name": .string(serviceAccount), "uid": .string(serviceAccountUID)]],
        ]
        let header: JSONValue = ["alg": "ES256", "typ": "JWT", "kid": .string(keyID)]
        let input = Self.base64URL(header.encoded()) + "." + Self.base64URL(claims.encoded())
        let signature = try key.signature(for: Data(input.utf8))
        return (input + "." + Self.base64URL(signature.rawRepresentation), Date(timeIntervalSince1970: TimeInterval(exp)))
    }

    /// The service account a token this issuer signed names, if the signature, issuer and expiry hold.
    func verify(_ token: String, now: Date = Date()) -> (namespace: String, name: String)? {
        let parts = token.split(separator: ".", omittingEmptySubsequences: false).map(String.init)
        guard parts.count == 3, let signatureBytes = Self.decodeBase64URL(parts[2]), let claimBytes = Self.decodeBase64URL(parts[1]),
              let signature = try? P256.Signing.ECDSASignature(rawRepresentation: signatureBytes),
              key.publicKey.isValidSignature(signature, for: Data("\(parts[0]).\(parts[1])".utf8)),
              let claims = try? JSONValue.parse(claimBytes), claims["iss"]?.stringValue == issuer,
              let exp = claims["exp"]?.numberValue, exp > now.timeIntervalSince1970,
              let namespace = claims[path: ["kubernetes.io", "namespace"]]?.stringValue,
              let name = claims[path: ["kubernetes.io", "serviceaccount", "name"]]?.stringValue else { return nil }
        return (namespace, name)
    }

    static func decodeBase64URL(_ text: String) -> Data? {
        var base64 = text.replacingOccurrences(of: "-", with: "+").replacingOccurrences(of: "_", with: "/")
        while base64.count % 4 != 0 { base64 += "=" }
        return Data(base64Encoded: base64)
    }

    static func base64URL(_ data: some DataProtocol) -> String {
        Data(data).base64EncodedString().replacingOccurrences(of: "+", with: "-").replacingOccurrences(of: "/", with: "_").replacingOccurrences(of: "=", with: "")
    }
}
