import AzureIdentity
import Crypto
import _CryptoExtras
import Foundation
@_exported import StructuredJSON

/// A decoded (not yet trusted) JSON Web Token.
struct JWT: Sendable {
    let header: [String: JSONValue]
    let claims: [String: JSONValue]
    let signingInput: Data
    let signature: Data

    /// Splits and decodes a compact JWT; nil when it is not one.
    init?(compact: String) {
        let parts = compact.split(separator: ".", omittingEmptySubsequences: false)
        guard parts.count == 3,
              let h = Base64URL.decode(String(parts[0])), let p = Base64URL.decode(String(parts[1])), let s = Base64URL.decode(String(parts[2])),
              case .object(let header)? = try? JSONDecoder().decode(JSONValue.self, from: h),
              case .object(let claims)? = try? JSONDecoder().decode(JSONValue.self, from: p) else { return nil }
        self.header = header
        self.claims = claims
        self.signingInput = Data((parts[0] + "." + parts[1]).utf8)
        self.signature = s
    }

    func string(_ claim: String) -> String? { claims[claim]?.stringValue }
    func number(_ claim: String) -> Double? { claims[claim]?.numberValue }

    /// `aud` as a list (a JWT may carry one audience or several).
    var audiences: [String] {
        switch claims["aud"] {
        case .string(let s)?: return [s]
        case .array(let a)?: return a.compactMap(\.stringValue)
        default: return []
        }
    }

    /// Verifies the signature against one JWK (RS256 or ES256).
    func verify(with key: JSONValue) -> Bool {
        guard case .object(let jwk) = key else { return false }
        let alg = header["alg"]?.stringValue ?? ""
        switch (alg, jwk["kty"]?.stringValue) {
        case ("RS256", "RSA"):
            guard let n = jwk["n"]?.stringValue.flatMap(Base64URL.decode), let e = jwk["e"]?.stringValue.flatMap(Base64URL.decode),
                  let publicKey = try? _RSA.Signing.PublicKey(n: n, e: e) else { return false }
            return publicKey.isValidSignature(_RSA.Signing.RSASignature(rawRepresentation: signature), for: signingInput, padding: .insecurePKCS1v1_5)
        case ("ES256", "EC"):
            guard let x = jwk["x"]?.stringValue.flatMap(Base64URL.decode), let y = jwk["y"]?.stringValue.flatMap(Base64URL.decode),
                  let publicKey = try? P256.Signing.PublicKey(rawRepresentation: x + y),
                  let sig = try? P256.Signing.ECDSASignature(rawRepresentation: signature) else { return false }
            return publicKey.isValidSignature(sig, for: signingInput)
        default:
            return false
        }
    }

    /// Signs claims with ES256.
    static func sign(claims: [String: JSONValue], key: P256.Signing.PrivateKey, keyID: String) throws -> String {
        let header: JSONValue = .object(["alg": .string("ES256"), "typ": .string("JWT"), "kid": .string(keyID)])
        let encoder = JSONEncoder()
        encoder.outputFormatting = .sortedKeys
        let input = Base64URL.encode(try encoder.encode(header)) + "." + Base64URL.encode(try encoder.encode(JSONValue.object(claims)))
        let signature = try key.signature(for: Data(input.utf8))
        return input + "." + Base64URL.encode(signature.rawRepresentation)
    }
}

/// The public JWK of an ES256 signing key.
func publicJWK(of key: P256.Signing.PrivateKey, keyID: String) -> JSONValue {
    let raw = key.publicKey.rawRepresentation
    return .object([
        "kty": .string("EC"), "crv": .string("P-256"), "alg": .string("ES256"), "use": .string("sig"), "kid": .string(keyID),
        "x": .string(Base64URL.encode(raw.prefix(32))), "y": .string(Base64URL.encode(raw.suffix(32))),
    ])
}
