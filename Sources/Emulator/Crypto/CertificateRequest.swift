import Foundation

/// What to put in a Key Vault certificate: subject, SANs, lifetime and extended key usages.
public struct CertificateRequest: Sendable {
    /// X.500 subject such as "CN=web.demo.local" or "CN=x, O=Org, C=US" (CN, O, OU, C, L, ST).
    public var subject: String
    /// DNS subject alternative names.
    public var dnsNames: [String]
    /// Validity in months, 1...120.
    public var validityMonths: Int
    /// Extended key usage OIDs in dotted form; serverAuth and clientAuth by default.
    public var ekus: [String] = ["1.3.6.1.5.5.7.3.1", "1.3.6.1.5.5.7.3.2"]
    /// Start of validity; nil means now minus 5 minutes.
    public var notBefore: Date? = nil

    /// Creates a request; defaults mirror Key Vault's (12 months, serverAuth + clientAuth).
    public init(
        subject: String,
        dnsNames: [String] = [],
        validityMonths: Int = 12,
        ekus: [String] = ["1.3.6.1.5.5.7.3.1", "1.3.6.1.5.5.7.3.2"],
        notBefore: Date? = nil
    ) {
        self.subject = subject
        self.dnsNames = dnsNames
        self.validityMonths = validityMonths
        self.ekus = ekus
        self.notBefore = notBefore
    }
}
