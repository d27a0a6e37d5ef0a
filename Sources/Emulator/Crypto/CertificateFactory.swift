import Crypto
import Foundation
import SwiftASN1
import X509

/// Builds and signs X.509 v3 certificates with the extension sets the emulator needs.
enum CertificateFactory {
    /// The signer of a certificate: its name, private key and subject key identifier.
    struct Issuer {
        var name: DistinguishedName
        var key: Certificate.PrivateKey
        var keyIdentifier: ArraySlice<UInt8>
    }

    /// Signs a certificate for `publicKey`; SKI and AKI extensions are added automatically.
    static func make(
        subject: DistinguishedName,
        publicKey: Certificate.PublicKey,
        signer: Issuer,
        notBefore: Date,
        notAfter: Date,
        extensions: [Certificate.Extension]
    ) throws -> Certificate {
        let subjectKeyIdentifier = SubjectKeyIdentifier(hash: publicKey)
        var all = extensions
        all.append(try Certificate.Extension(subjectKeyIdentifier, critical: false))
        all.append(try Certificate.Extension(AuthorityKeyIdentifier(keyIdentifier: signer.keyIdentifier), critical: false))
        return try Certificate(
            version: .v3,
            serialNumber: randomSerialNumber(),
            publicKey: publicKey,
            notValidBefore: notBefore,
            notValidAfter: notAfter,
            issuer: signer.name,
            subject: subject,
            extensions: try Certificate.Extensions(all),
            issuerPrivateKey: signer.key
        )
    }

    /// Issuer description for an existing CA certificate and its key.
    static func issuer(_ certificate: Certificate, key: Certificate.PrivateKey) -> Issuer {
        let identifier = (try? certificate.extensions.subjectKeyIdentifier?.keyIdentifier)
            ?? SubjectKeyIdentifier(hash: certificate.publicKey).keyIdentifier
        return Issuer(name: certificate.subject, key: key, keyIdentifier: identifier)
    }

    /// Issuer description for a self-signed certificate: the subject signs with its own key.
    static func selfIssuer(name: DistinguishedName, key: Certificate.PrivateKey) -> Issuer {
        Issuer(name: name, key: key, keyIdentifier: SubjectKeyIdentifier(hash: key.publicKey).keyIdentifier)
    }

    /// DER bytes of a certificate.
    static func der(_ certificate: Certificate) throws -> [UInt8] {
        var serializer = DER.Serializer()
        try serializer.serialize(certificate)
        return serializer.serializedBytes
    }

    /// Adds calendar months in UTC.
    static func adding(months: Int, to date: Date) -> Date {
        var calendar = Calendar(identifier: .gregorian)
        calendar.timeZone = TimeZone(identifier: "UTC")!
        return calendar.date(byAdding: .month, value: months, to: date)
            ?? date.addingTimeInterval(Double(months) * 30 * 86_400)
    }

    /// Adds calendar years in UTC.
    static func adding(years: Int, to date: Date) -> Date {
        adding(months: years * 12, to: date)
    }

    /// A positive 16-byte random serial number (first byte 0x01...0x7F, so no sign or padding byte).
    static func randomSerialNumber() -> Certificate.SerialNumber {
        var bytes = CryptoEncoding.randomBytes(16)
        bytes[0] = (bytes[0] & 0x7F) | 0x01
        return Certificate.SerialNumber(bytes: bytes)
    }

    /// Subject alternative names for DNS names and textual IP addresses.
    static func subjectAlternativeNames(dnsNames: [String], ipAddresses: [String]) throws -> SubjectAlternativeNames {
        var names: [GeneralName] = []
        for name in dnsNames {
            let trimmed = name.trimmingCharacters(in: .whitespaces)
            guard !trimmed.isEmpty, trimmed.allSatisfy({ $0.isASCII && !$0.isWhitespace }) else {
                throw CertificateRequestError.invalidDNSName(name)
            }
            names.append(.dnsName(trimmed))
        }
        for address in ipAddresses {
            guard let bytes = IPAddressParser.bytes(address.trimmingCharacters(in: .whitespaces)) else {
                throw CertificateAuthorityError.invalidIPAddress(address)
            }
            names.append(.ipAddress(ASN1OctetString(contentBytes: ArraySlice(bytes))))
        }
        return SubjectAlternativeNames(names)
    }
}
