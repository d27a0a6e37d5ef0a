import Foundation

/// A certificate chain that cannot be paired with its key.
public enum IssuedCertificateError: Error, Sendable, Equatable, CustomStringConvertible, LocalizedError {
    /// No certificates were given.
    case emptyChain
    /// A chain element is not a DER X.509 certificate; `index` 0 is the leaf.
    case invalidCertificate(index: Int, reason: String)
    /// The private key does not belong to the leaf certificate.
    case keyDoesNotMatchLeaf

    /// Human-readable explanation of the failure.
    public var description: String {
        switch self {
        case .emptyChain:
            return "certificate chain is empty"
        case .invalidCertificate(let index, let reason):
            return "certificate \(index) in the chain is not valid DER X.509: \(reason)"
        case .keyDoesNotMatchLeaf:
            return "private key does not match the leaf certificate's public key"
        }
    }

    /// Same as `description`, for Foundation's `localizedDescription`.
    public var errorDescription: String? { description }
}
