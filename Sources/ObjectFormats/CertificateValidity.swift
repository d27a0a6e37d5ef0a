import Foundation
import X509

/// When a certificate is valid, read from its DER.
public enum CertificateValidity {
    /// notBefore and notAfter of a DER certificate; nil when it cannot be parsed.
    public static func of(der: [UInt8]) -> (notBefore: Date, notAfter: Date)? {
        guard let certificate = try? Certificate(derEncoded: der) else { return nil }
        return (certificate.notValidBefore, certificate.notValidAfter)
    }
}
