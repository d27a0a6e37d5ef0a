import Foundation

/// Failures while loading, creating or using the emulator's certificate authority.
public enum CertificateAuthorityError: Error, Sendable, Equatable, CustomStringConvertible, LocalizedError {
    /// A CA file exists but cannot be read or parsed.
    case unreadableFile(path: String, reason: String)
    /// A CA private key does not belong to the certificate stored beside it.
    case keyMismatch(certificatePath: String, keyPath: String)
    /// A CA file or directory could not be written.
    case writeFailed(path: String, reason: String)
    /// An IP address for a SAN is not valid IPv4 or IPv6.
    case invalidIPAddress(String)
    /// A server certificate needs at least one DNS name or IP address.
    case noSubjectAlternativeNames

    /// Human-readable explanation of the failure.
    public var description: String {
        switch self {
        case .unreadableFile(let path, let reason):
            return "cannot read CA file \(path): \(reason)"
        case .keyMismatch(let certificatePath, let keyPath):
            return "CA key \(keyPath) does not match certificate \(certificatePath); delete both to regenerate"
        case .writeFailed(let path, let reason):
            return "cannot write \(path): \(reason)"
        case .invalidIPAddress(let text):
            return "'\(text)' is not an IPv4 or IPv6 address"
        case .noSubjectAlternativeNames:
            return "a server certificate needs at least one DNS name or IP address"
        }
    }

    /// Same as `description`, for Foundation's `localizedDescription`.
    public var errorDescription: String? { description }
}
