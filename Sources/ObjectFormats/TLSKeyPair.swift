import Crypto
import _CryptoExtras
import SwiftASN1
import X509

/// The two halves of a `kubernetes.io/tls` Secret, taken from a mounted certificate object (PEM key + chain, or
/// PFX as binary or base64) the way the upstream driver does it: `tls.key` as PKCS#1 "RSA PRIVATE KEY" or SEC1
/// "EC PRIVATE KEY", `tls.crt` as every certificate. Unlike upstream, the key must match the first certificate.
public struct TLSKeyPair: Sendable, Equatable {
    /// Every certificate, PEM, in the order given.
    public var certificates: String
    /// The private key, PEM (PKCS#1 for RSA, SEC1 for EC).
    public var privateKey: String

    /// Parses `contents`; errors say what is missing, never any key material.
    public static func parse(_ contents: [UInt8]) throws(TLSKeyPairError) -> TLSKeyPair {
        var keys: [[UInt8]] = []
        var certs: [[UInt8]] = []
        let text = String(decoding: contents, as: UTF8.self)
        let blocks = PEM.decodeAll(text)
        if !blocks.isEmpty {
            for block in blocks {
                if block.label == "CERTIFICATE" { certs.append(block.der) }
                else if block.label.hasSuffix("PRIVATE KEY") { keys.append(block.der) }
            }
        } else {
            let der = (try? Base64.decodeStandard(text.filter { !$0.isWhitespace })) ?? contents
            guard let pfx = try? PKCS12Reader.read(der) else { throw .unreadable }
            keys = pfx.privateKeys
            certs = pfx.certificates
        }
        guard !certs.isEmpty else { throw .noCertificate }
        guard let keyDER = keys.first else { throw .noPrivateKey }
        let leaf: Certificate
        do { leaf = try Certificate(derEncoded: certs[0]) } catch { throw .invalidCertificate }
        let (pem, publicKey) = try convert(keyDER)
        guard publicKey == leaf.publicKey else { throw .mismatch }
        return TLSKeyPair(certificates: certs.map { PEM.encode(label: "CERTIFICATE", der: $0) }.joined(), privateKey: pem)
    }

    /// PKCS#8, PKCS#1 or SEC1 DER → (PKCS#1/SEC1 PEM, public key).
    static func convert(_ der: [UInt8]) throws(TLSKeyPairError) -> (String, Certificate.PublicKey) {
        let pkcs8 = PEM.encode(label: "PRIVATE KEY", der: der)
        if let rsa = (try? _RSA.Signing.PrivateKey(derRepresentation: der)) ?? (try? _RSA.Signing.PrivateKey(pemRepresentation: pkcs8)) {
            return (rsa.pemRepresentation, Certificate.PrivateKey(rsa).publicKey)
        }
        if let k = (try? P256.Signing.PrivateKey(derRepresentation: der)) {
            return (sec1(raw: Array(k.rawRepresentation), publicX963: Array(k.publicKey.x963Representation), curve: "1.2.840.10045.3.1.7"),
                    Certificate.PrivateKey(k).publicKey)
        }
        if let k = (try? P384.Signing.PrivateKey(derRepresentation: der)) {
            return (sec1(raw: Array(k.rawRepresentation), publicX963: Array(k.publicKey.x963Representation), curve: "1.3.132.0.34"),
                    Certificate.PrivateKey(k).publicKey)
        }
        if let k = (try? P521.Signing.PrivateKey(derRepresentation: der)) {
            return (sec1(raw: Array(k.rawRepresentation), publicX963: Array(k.publicKey.x963Representation), curve: "1.3.132.0.35"),
                    Certificate.PrivateKey(k).publicKey)
        }
        throw .unsupportedKey
    }

    /// RFC 5915 ECPrivateKey { version 1, privateKey, [0] namedCurve, [1] publicKey } as "EC PRIVATE KEY" PEM.
    static func sec1(raw: [UInt8], publicX963: [UInt8], curve: String) -> String {
        var serializer = DER.Serializer()
        // Serializing fixed, well-formed values into memory cannot fail.
        try! serializer.appendConstructedNode(identifier: .sequence) { s in
            try s.serialize(1)
            try s.serialize(ASN1OctetString(contentBytes: raw[...]))
            try s.serialize(explicitlyTaggedWithTagNumber: 0, tagClass: .contextSpecific) { inner in
                try inner.serialize(try ASN1ObjectIdentifier(dotRepresentation: curve))
            }
            try s.serialize(explicitlyTaggedWithTagNumber: 1, tagClass: .contextSpecific) { inner in
                try inner.serialize(ASN1BitString(bytes: publicX963[...]))
            }
        }
        return PEM.encode(label: "EC PRIVATE KEY", der: serializer.serializedBytes)
    }
}

/// Why mounted content cannot become a `kubernetes.io/tls` Secret.
public enum TLSKeyPairError: Error, CustomStringConvertible, Sendable, Equatable {
    case unreadable, noCertificate, noPrivateKey, invalidCertificate, unsupportedKey, mismatch

    public var description: String {
        switch self {
        case .unreadable: return "is neither PEM nor a PKCS#12 (PFX) file"
        case .noCertificate: return "holds no certificate"
        case .noPrivateKey: return "holds no private key (mount the certificate as objectType: secret to get its key)"
        case .invalidCertificate: return "holds a certificate that cannot be parsed"
        case .unsupportedKey: return "holds a private key that is neither RSA nor EC P-256/P-384/P-521"
        case .mismatch: return "holds a private key that does not match its first certificate"
        }
    }
}
