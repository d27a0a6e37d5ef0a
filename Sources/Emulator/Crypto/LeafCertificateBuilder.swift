import Foundation
import SwiftASN1
import X509

/// Turns a `CertificateRequest` into a signed end-entity certificate (CA-issued or self-signed).
enum LeafCertificateBuilder {
    /// Builds the leaf; `signer` nil means self-signed with `key`.
    static func build(
        _ request: CertificateRequest, key: KeyMaterial, signer: CertificateFactory.Issuer?
    ) throws -> Certificate {
        guard (1...120).contains(request.validityMonths) else {
            throw CertificateRequestError.invalidValidityMonths(request.validityMonths)
        }
        let subject = try SubjectNameParser.parse(request.subject)
        let usages = try request.ekus.map { text -> ExtendedKeyUsage.Usage in
            guard let oid = try? ASN1ObjectIdentifier(dotRepresentation: text), oid.oidComponents.count >= 2 else {
                throw CertificateRequestError.invalidExtendedKeyUsage(text)
            }
            return ExtendedKeyUsage.Usage(oid: oid)
        }
        let isRSA = if case .rsa = key.spec { true } else { false }

        var extensions: [Certificate.Extension] = [
            try Certificate.Extension(BasicConstraints.notCertificateAuthority, critical: true),
            try Certificate.Extension(KeyUsage(digitalSignature: true, keyEncipherment: isRSA), critical: true),
        ]
        if !usages.isEmpty {
            extensions.append(try Certificate.Extension(ExtendedKeyUsage(usages), critical: false))
        }
        if !request.dnsNames.isEmpty {
            let names = try CertificateFactory.subjectAlternativeNames(dnsNames: request.dnsNames, ipAddresses: [])
            extensions.append(try Certificate.Extension(names, critical: false))
        }

        let notBefore = request.notBefore ?? Date().addingTimeInterval(-300)
        return try CertificateFactory.make(
            subject: subject,
            publicKey: key.privateKey.publicKey,
            signer: signer ?? CertificateFactory.selfIssuer(name: subject, key: key.privateKey),
            notBefore: notBefore,
            notAfter: CertificateFactory.adding(months: request.validityMonths, to: notBefore),
            extensions: extensions
        )
    }
}
