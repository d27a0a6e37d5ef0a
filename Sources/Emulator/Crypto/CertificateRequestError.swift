import Foundation

/// A certificate request that cannot be turned into a certificate.
public enum CertificateRequestError: Error, Sendable, Equatable, CustomStringConvertible, LocalizedError {
    /// The subject string has a field that cannot be parsed; `field` names it.
    case invalidSubject(field: String, reason: String)
    /// Validity outside 1...120 months.
    case invalidValidityMonths(Int)
    /// An extended key usage that is not a dotted OID.
    case invalidExtendedKeyUsage(String)
    /// An empty or malformed DNS name.
    case invalidDNSName(String)

    /// Human-readable explanation of the failure.
    public var description: String {
        switch self {
        case .invalidSubject(let field, let reason):
            return "invalid certificate subject field '\(field)': \(reason)"
        case .invalidValidityMonths(let months):
            return "validity of \(months) months is out of range; use 1 to 120"
        case .invalidExtendedKeyUsage(let eku):
            return "extended key usage '\(eku)' is not a dotted OID such as 1.3.6.1.5.5.7.3.1"
        case .invalidDNSName(let name):
            return "invalid DNS name '\(name)'"
        }
    }

    /// Same as `description`, for Foundation's `localizedDescription`.
    public var errorDescription: String? { description }
}
