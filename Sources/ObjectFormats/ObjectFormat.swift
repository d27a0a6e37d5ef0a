import Foundation

/// The SecretProviderClass `objectFormat` of a certificate-backed secret.
public enum ObjectFormat: String, Sendable, CaseIterable {
    /// Private key and certificates as PEM (the default).
    case pem
    /// The PFX itself (binary PKCS#12), for application/x-pkcs12 secrets.
    case pfx

    /// Parses "pem" or "pfx" case-insensitively; an empty string means pem.
    public init(parsing text: String) throws(ObjectFormatError) {
        switch text.lowercased() {
        case "", "pem": self = .pem
        case "pfx": self = .pfx
        default: throw .invalidFormat(text)
        }
    }
}

/// Why an `objectFormat` could not be parsed.
public enum ObjectFormatError: Error, Equatable, Sendable, CustomStringConvertible, LocalizedError {
    /// The SecretProviderClass names an unknown format.
    case invalidFormat(String)

    /// A human-readable explanation naming the field and the fix.
    public var description: String {
        switch self {
        case let .invalidFormat(text):
            return "invalid objectFormat: \(text), should be PEM or PFX"
        }
    }

    /// Same as `description`, for `localizedDescription`.
    public var errorDescription: String? { description }
}
