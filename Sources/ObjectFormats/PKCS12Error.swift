import Foundation

/// Why a PKCS#12 (PFX) file could not be opened; messages never contain key or password bytes.
public enum PKCS12Error: Error, Equatable, Sendable, CustomStringConvertible, LocalizedError {
    /// The input is larger than the reader accepts.
    case inputTooLarge(size: Int, limit: Int)
    /// A structure is missing or has the wrong ASN.1 shape; `field` names it (for example "PFX.macData").
    case malformed(field: String)
    /// The PFX version is not 3.
    case unsupportedVersion(Int)
    /// A ContentInfo uses a content type this reader does not open (for example public-key enveloped data).
    case unsupportedContentType(oid: String, field: String)
    /// An encryption, key-derivation or MAC algorithm is not supported; `field` says where it was used.
    case unsupportedAlgorithm(oid: String, field: String)
    /// An iteration count is zero, negative or above the limit.
    case iterationCountOutOfRange(field: String, value: Int, limit: Int)
    /// A safety limit on the amount of structure or work was exceeded.
    case limitExceeded(what: String, limit: Int)
    /// The integrity MAC did not verify: the password is wrong or the file was altered.
    case macMismatch
    /// Decrypting `field` produced invalid padding or structure: the password is wrong or the file was altered.
    case decryptionFailed(field: String)

    /// A human-readable explanation naming the failing field and the fix.
    public var description: String {
        switch self {
        case let .inputTooLarge(size, limit):
            return "PFX is \(size) bytes, larger than the \(limit)-byte limit; "
                + "a Key Vault certificate PFX is a few kilobytes, so check that the object really is a certificate secret"
        case let .malformed(field):
            return "PFX is malformed at \(field): the value is not a valid PKCS#12 file; "
                + "check that the secret holds a base64 PFX (contentType application/x-pkcs12) or re-import the certificate"
        case let .unsupportedVersion(version):
            return "PFX version \(version) is not supported (expected 3); re-export the certificate as a standard PKCS#12 file"
        case let .unsupportedContentType(oid, field):
            return "PFX content type \(oid) at \(field) is not supported (only data and password-encrypted data are); "
                + "re-export the PFX with password-based encryption, for example with 'openssl pkcs12 -export'"
        case let .unsupportedAlgorithm(oid, field):
            return "PFX algorithm \(oid) at \(field) is not supported; supported are PBES2 (PBKDF2 with AES-CBC or 3DES), "
                + "PKCS#12 PBE with 3DES or RC2, and HMAC-SHA1/256/384/512 MACs; re-export the PFX with one of them"
        case let .iterationCountOutOfRange(field, value, limit):
            return "PFX iteration count \(value) at \(field) is outside 1...\(limit); re-export the PFX with a smaller iteration count"
        case let .limitExceeded(what, limit):
            return "PFX exceeds the limit of \(limit) \(what); the file is unusually complex, re-export it with only the key and its chain"
        case .macMismatch:
            return "wrong password or corrupted PFX: the integrity MAC does not match; "
                + "Key Vault certificate secrets use an empty password, so re-download the secret or supply the right password"
        case let .decryptionFailed(field):
            return "wrong password or corrupted PFX: decrypting \(field) gave invalid data; "
                + "check the password (Key Vault uses an empty one) or re-download the secret"
        }
    }

    /// Same as `description`, for `localizedDescription`.
    public var errorDescription: String? { description }
}
