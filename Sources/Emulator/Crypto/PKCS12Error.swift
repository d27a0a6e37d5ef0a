import Foundation

/// Failures while building a PKCS#12 (PFX) file.
public enum PKCS12Error: Error, Sendable, Equatable, CustomStringConvertible, LocalizedError {
    /// At least one certificate (the leaf) is required.
    case noCertificates
    /// The private key is not DER-encoded PKCS#8.
    case invalidPrivateKey(String)
    /// Key derivation or encryption failed.
    case encryptionFailed(String)

    /// Human-readable explanation of the failure.
    public var description: String {
        switch self {
        case .noCertificates:
            return "a PKCS#12 file needs at least one certificate (the leaf)"
        case .invalidPrivateKey(let reason):
            return "private key is not DER PKCS#8: \(reason)"
        case .encryptionFailed(let reason):
            return "PKCS#12 encryption failed: \(reason)"
        }
    }

    /// Same as `description`, for Foundation's `localizedDescription`.
    public var errorDescription: String? { description }
}
