import Foundation

/// Failures while generating, importing or encoding key material.
public enum KeyMaterialError: Error, Sendable, Equatable, CustomStringConvertible, LocalizedError {
    /// RSA key size other than 2048, 3072 or 4096 bits.
    case unsupportedRSAKeySize(Int)
    /// The PKCS#8 key uses an algorithm or curve that is not supported.
    case unsupportedAlgorithm(String)
    /// The key bytes could not be decoded.
    case invalidEncoding(String)

    /// Human-readable explanation of the failure.
    public var description: String {
        switch self {
        case .unsupportedRSAKeySize(let bits):
            return "unsupported RSA key size \(bits) bits; use 2048, 3072 or 4096"
        case .unsupportedAlgorithm(let what):
            return "unsupported private key algorithm: \(what)"
        case .invalidEncoding(let reason):
            return "invalid private key encoding: \(reason)"
        }
    }

    /// Same as `description`, for Foundation's `localizedDescription`.
    public var errorDescription: String? { description }
}
