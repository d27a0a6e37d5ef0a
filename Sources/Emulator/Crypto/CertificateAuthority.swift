import Crypto
import Foundation
import SwiftASN1
import X509

/// Emulator root CA and intermediate CA, persisted in a directory so restarts reuse them.
public struct CertificateAuthority: Sendable {
    /// Directory holding the CA files.
    public let directory: URL
    /// The self-signed root certificate clients should trust.
    public let rootCertificate: Certificate
    /// The intermediate CA that signs Key Vault certificates.
    public let intermediateCertificate: Certificate
    /// The root certificate as DER.
    public let rootDER: [UInt8]
    /// The intermediate certificate as DER.
    public let intermediateDER: [UInt8]
    let rootKey: Certificate.PrivateKey
    let intermediateKey: Certificate.PrivateKey

    static let rootCertificateFile = "root-ca.pem"
    static let rootKeyFile = "root-ca-key.pem"
    static let intermediateCertificateFile = "intermediate-ca.pem"
    static let intermediateKeyFile = "intermediate-ca-key.pem"

    /// Loads root-ca.pem/root-ca-key.pem/intermediate-ca.pem/intermediate-ca-key.pem from `directory`, or creates them (P-256 keys, root valid 10 years, intermediate 5 years, basicConstraints CA, keyUsage keyCertSign|cRLSign, subject key id + authority key id) and writes them with mode 0600 for keys.
    public static func loadOrCreate(
        directory: URL, commonName: String = "akvs emulator root CA"
    ) throws -> CertificateAuthority {
        try SecureFileWriter.ensureDirectory(directory)
        let now = Date()

        var root = try loadPair(directory, Self.rootCertificateFile, Self.rootKeyFile)
        if let existing = root, existing.certificate.notValidAfter <= now { root = nil }
        let rootIsNew = root == nil
        let (rootCertificate, rootKey) = try root ?? createRoot(commonName: commonName, now: now, directory: directory)

        var intermediate = rootIsNew
            ? nil : try loadPair(directory, Self.intermediateCertificateFile, Self.intermediateKeyFile)
        if let existing = intermediate {
            let signedByRoot = existing.certificate.issuer == rootCertificate.subject
                && rootCertificate.publicKey.isValidSignature(existing.certificate.signature, for: existing.certificate)
            if !signedByRoot || existing.certificate.notValidAfter <= now { intermediate = nil }
        }
        let (intermediateCertificate, intermediateKey) = try intermediate
            ?? createIntermediate(
                commonName: intermediateName(for: commonName), root: (rootCertificate, rootKey), now: now,
                directory: directory)

        return CertificateAuthority(
            directory: directory,
            rootCertificate: rootCertificate,
            intermediateCertificate: intermediateCertificate,
            rootDER: try CertificateFactory.der(rootCertificate),
            intermediateDER: try CertificateFactory.der(intermediateCertificate),
            rootKey: rootKey,
            intermediateKey: intermediateKey
        )
    }

    /// The root certificate as PEM.
    public var rootPEM: String {
        CryptoEncoding.pem(label: "CERTIFICATE", der: rootDER)
    }

    /// TLS server certificate signed directly by the ROOT, for the emulator's HTTPS listener: SANs = given DNS names (wildcards like "*.vault.localhost" allowed) and IP addresses ("127.0.0.1", "::1"), EKU serverAuth, keyUsage digitalSignature(+keyEncipherment for RSA), valid 1 year (notBefore = now - 1h). Returns PEM of the leaf and PKCS#8 PEM key (P-256).
    public func issueServerCertificate(
        dnsNames: [String], ipAddresses: [String]
    ) throws -> (certificatePEM: String, privateKeyPEM: String) {
        guard !dnsNames.isEmpty || !ipAddresses.isEmpty else {
            throw CertificateAuthorityError.noSubjectAlternativeNames
        }
        let key = try KeyMaterial.generate(.ec(curve: .p256))
        let notBefore = Date().addingTimeInterval(-3600)
        let commonName = dnsNames.first ?? ipAddresses[0]
        let certificate = try CertificateFactory.make(
            subject: try DistinguishedName { CommonName(commonName) },
            publicKey: key.privateKey.publicKey,
            signer: CertificateFactory.issuer(rootCertificate, key: rootKey),
            notBefore: notBefore,
            notAfter: CertificateFactory.adding(years: 1, to: notBefore),
            extensions: [
                try Certificate.Extension(BasicConstraints.notCertificateAuthority, critical: true),
                try Certificate.Extension(KeyUsage(digitalSignature: true), critical: true),
                try Certificate.Extension(ExtendedKeyUsage([.serverAuth]), critical: false),
                try Certificate.Extension(
                    CertificateFactory.subjectAlternativeNames(dnsNames: dnsNames, ipAddresses: ipAddresses),
                    critical: false),
            ]
        )
        let der = try CertificateFactory.der(certificate)
        return (CryptoEncoding.pem(label: "CERTIFICATE", der: der), key.pkcs8PEM)
    }

    /// Issues a leaf for a Key Vault certificate object, signed by the INTERMEDIATE.
    public func issue(_ request: CertificateRequest, key: KeyMaterial) throws -> IssuedCertificate {
        let leaf = try LeafCertificateBuilder.build(
            request, key: key, signer: CertificateFactory.issuer(intermediateCertificate, key: intermediateKey))
        return try IssuedCertificate(key: key, chain: [leaf, intermediateCertificate, rootCertificate])
    }

    // MARK: - Creation and loading

    private static func intermediateName(for rootName: String) -> String {
        if let range = rootName.range(of: "root", options: .caseInsensitive) {
            return rootName.replacingCharacters(in: range, with: "intermediate")
        }
        return rootName + " intermediate"
    }

    private static func caExtensions(pathLength: Int?) throws -> [Certificate.Extension] {
        [
            try Certificate.Extension(BasicConstraints.isCertificateAuthority(maxPathLength: pathLength), critical: true),
            try Certificate.Extension(KeyUsage(keyCertSign: true, cRLSign: true), critical: true),
        ]
    }

    private static func createRoot(
        commonName: String, now: Date, directory: URL
    ) throws -> (Certificate, Certificate.PrivateKey) {
        let key = try KeyMaterial.generate(.ec(curve: .p256))
        let name = try DistinguishedName {
            OrganizationName("akvs")
            CommonName(commonName)
        }
        let notBefore = now.addingTimeInterval(-3600)
        let certificate = try CertificateFactory.make(
            subject: name,
            publicKey: key.privateKey.publicKey,
            signer: CertificateFactory.selfIssuer(name: name, key: key.privateKey),
            notBefore: notBefore,
            notAfter: CertificateFactory.adding(years: 10, to: notBefore),
            extensions: try caExtensions(pathLength: nil)
        )
        try store(certificate, key: key, directory: directory, Self.rootCertificateFile, Self.rootKeyFile)
        return (certificate, key.privateKey)
    }

    private static func createIntermediate(
        commonName: String, root: (Certificate, Certificate.PrivateKey), now: Date, directory: URL
    ) throws -> (Certificate, Certificate.PrivateKey) {
        let key = try KeyMaterial.generate(.ec(curve: .p256))
        let name = try DistinguishedName {
            OrganizationName("akvs")
            CommonName(commonName)
        }
        let notBefore = now.addingTimeInterval(-3600)
        let certificate = try CertificateFactory.make(
            subject: name,
            publicKey: key.privateKey.publicKey,
            signer: CertificateFactory.issuer(root.0, key: root.1),
            notBefore: notBefore,
            notAfter: min(CertificateFactory.adding(years: 5, to: notBefore), root.0.notValidAfter),
            extensions: try caExtensions(pathLength: 0)
        )
        try store(
            certificate, key: key, directory: directory, Self.intermediateCertificateFile, Self.intermediateKeyFile)
        return (certificate, key.privateKey)
    }

    private static func store(
        _ certificate: Certificate, key: KeyMaterial, directory: URL, _ certificateFile: String, _ keyFile: String
    ) throws {
        // Key first: a certificate on disk without its key would be reported as unusable on the next load.
        try SecureFileWriter.write(
            Array(key.pkcs8PEM.utf8), to: directory.appendingPathComponent(keyFile), mode: 0o600)
        let pem = CryptoEncoding.pem(label: "CERTIFICATE", der: try CertificateFactory.der(certificate))
        try SecureFileWriter.write(Array(pem.utf8), to: directory.appendingPathComponent(certificateFile), mode: 0o644)
    }

    /// Loads a certificate and its key; nil when either file is missing.
    private static func loadPair(
        _ directory: URL, _ certificateFile: String, _ keyFile: String
    ) throws -> (certificate: Certificate, key: Certificate.PrivateKey)? {
        let certificateURL = directory.appendingPathComponent(certificateFile)
        let keyURL = directory.appendingPathComponent(keyFile)
        let files = FileManager.default
        guard files.fileExists(atPath: certificateURL.path), files.fileExists(atPath: keyURL.path) else {
            return nil
        }
        let certificate: Certificate
        let key: Certificate.PrivateKey
        do {
            certificate = try Certificate(pemEncoded: String(decoding: try Data(contentsOf: certificateURL), as: UTF8.self))
        } catch {
            throw CertificateAuthorityError.unreadableFile(path: certificateURL.path, reason: "\(error)")
        }
        do {
            key = try Certificate.PrivateKey(pemEncoded: String(decoding: try Data(contentsOf: keyURL), as: UTF8.self))
        } catch {
            throw CertificateAuthorityError.unreadableFile(path: keyURL.path, reason: "\(error)")
        }
        guard key.publicKey == certificate.publicKey else {
            throw CertificateAuthorityError.keyMismatch(certificatePath: certificateURL.path, keyPath: keyURL.path)
        }
        return (certificate, key)
    }
}
