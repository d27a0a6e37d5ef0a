import Foundation

/// Why a Key Vault JWK could not be written as a PEM public key.
public enum PublicKeyPEMError: Error, Equatable, Sendable, CustomStringConvertible, LocalizedError {
    /// `kty` is not RSA, RSA-HSM, EC or EC-HSM.
    case unsupportedKeyType(String)
    /// `crv` is not P-256, P-384 or P-521.
    case unsupportedCurve(String)
    /// A JWK field needed for this key type is absent or empty.
    case missingField(String, keyType: String)
    /// A JWK field is not valid base64url.
    case invalidBase64URL(field: String)
    /// An EC coordinate is longer than the curve's field size.
    case coordinateTooLong(field: String, curve: String)
    /// The EC point (x, y) is not on the named curve.
    case pointNotOnCurve(curve: String)

    /// A human-readable explanation naming the failing field and the fix.
    public var description: String {
        switch self {
        case let .unsupportedKeyType(kty):
            return "failed to get key. key type '\(kty)' currently not supported; "
                + "only RSA, RSA-HSM, EC and EC-HSM keys can be written as a PEM public key, "
                + "so use objectType: key only for those (fetch certificates with objectType: cert or secret)"
        case let .unsupportedCurve(crv):
            return "curve \(crv) is not supported; only P-256, P-384 and P-521 EC keys can be written as a PEM public key"
        case let .missingField(field, keyType):
            return "key is missing JWK field '\(field)' required for key type '\(keyType)'; check that the Key Vault response is a complete JWK"
        case let .invalidBase64URL(field):
            return "JWK field '\(field)' is not valid base64url; check that the Key Vault response was not altered"
        case let .coordinateTooLong(field, curve):
            return "JWK field '\(field)' is longer than a \(curve) coordinate; check that 'crv' matches the key"
        case let .pointNotOnCurve(curve):
            return "JWK x and y are not a point on \(curve); check that 'crv' matches the key and the response was not altered"
        }
    }

    /// Same as `description`, for `localizedDescription`.
    public var errorDescription: String? { description }
}
