import Crypto
import Foundation
import SwiftASN1
import X509

/// A certificate with its key and chain (leaf first).
public struct IssuedCertificate: Sendable {
    /// The leaf's private key.
    public let key: KeyMaterial
    /// DER certificates: leaf, then intermediate, then root for CA-issued; just the leaf when self-signed.
    public let chainDER: [[UInt8]]
    /// The parsed leaf certificate.
    public let leafCertificate: Certificate

    init(key: KeyMaterial, chain: [Certificate]) throws {
        guard let leaf = chain.first else { throw IssuedCertificateError.emptyChain }
        self.key = key
        self.leafCertificate = leaf
        self.chainDER = try chain.map(CertificateFactory.der)
    }

    /// Pairs a key with an existing DER chain (leaf first), e.g. when reloading a stored certificate.
    public init(key: KeyMaterial, chainDER: [[UInt8]]) throws {
        guard let leafDER = chainDER.first else { throw IssuedCertificateError.emptyChain }
        for (index, der) in chainDER.enumerated() {
            do {
                _ = try Certificate(derEncoded: der)
            } catch {
                throw IssuedCertificateError.invalidCertificate(index: index, reason: "\(error)")
            }
        }
        let leaf = try Certificate(derEncoded: leafDER)
        guard leaf.publicKey == key.privateKey.publicKey else { throw IssuedCertificateError.keyDoesNotMatchLeaf }
        self.key = key
        self.chainDER = chainDER
        self.leafCertificate = leaf
    }

    /// Self-signed leaf (issuer == subject), as Key Vault's "Self" issuer produces.
    public static func selfSigned(_ request: CertificateRequest, key: KeyMaterial) throws -> IssuedCertificate {
        let leaf = try LeafCertificateBuilder.build(request, key: key, signer: nil)
        return try IssuedCertificate(key: key, chain: [leaf])
    }

    /// The leaf certificate DER (Key Vault's `cer`).
    public var leafDER: [UInt8] { chainDER[0] }

    /// Start of the leaf's validity.
    public var notBefore: Date { leafCertificate.notValidBefore }

    /// End of the leaf's validity.
    public var notAfter: Date { leafCertificate.notValidAfter }

    /// Base64url (no padding) SHA-1 thumbprint of the leaf DER, Key Vault's `x5t`.
    public var x5t: String {
        CryptoEncoding.base64URL(Insecure.SHA1.hash(data: leafDER))
    }

    /// Upper-case hex of the leaf serial number.
    public var serialNumberHex: String {
        CryptoEncoding.hex(leafCertificate.serialNumber.bytes)
    }

    /// PEM bundle as Key Vault returns for application/x-pem-file: PKCS#8 private key PEM first, then each certificate PEM, leaf first.
    public func pemBundle() -> String {
        chainDER.reduce(key.pkcs8PEM) { bundle, der in
            bundle + CryptoEncoding.pem(label: "CERTIFICATE", der: der)
        }
    }

    /// PKCS#12 (PFX) bytes as Key Vault returns for application/x-pkcs12, password "" by default.
    public func pkcs12(password: String = "") throws -> [UInt8] {
        try PKCS12Writer.build(privateKeyPKCS8: key.pkcs8DER, certificates: chainDER, password: password)
    }
}
