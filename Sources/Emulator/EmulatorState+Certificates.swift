import Foundation
import KeyVault
import ObjectFormats
import SwiftASN1
import X509

/// What a certificate create asks for.
struct CertificateCreation: Sendable {
    var request: CertificateRequest
    var keySpec: KeySpec
    /// `Self` (self-signed) or `Emulator` (emulator root → intermediate → leaf).
    var issuerName: String
    var contentType: String
    var tags: [String: String]?
    var enabled: Bool = true
}

extension EmulatorState {
    static let pkcs12ContentType = "application/x-pkcs12"
    static let pemContentType = "application/x-pem-file"

    func certificateBundle(_ record: CertificateVersionRecord, name: String, vault: VaultRecord) -> CertificateBundle {
        let version = record.meta.version
        var attributes = record.meta.attributes()
        attributes.nbf = Int64(record.issued.notBefore.timeIntervalSince1970)
        attributes.exp = Int64(record.issued.notAfter.timeIntervalSince1970)
        var policy = record.policy
        policy.id = "\(vault.baseURL)/certificates/\(name)/policy"
        return CertificateBundle(id: vault.id(.certificate, name, version), kid: vault.id(.key, name, version), sid: vault.id(.secret, name, version),
                                 x5t: record.issued.x5t, cer: Data(record.issued.leafDER).base64EncodedString(), contentType: record.contentType,
                                 attributes: attributes, policy: policy, tags: record.meta.tags)
    }

    func getCertificate(vault: String, name: String, version: String) throws(KVFailure) -> CertificateBundle {
        let record = try readVault(vault)
        guard let found = Self.pick(record.certificates[name], version, meta: \.meta) else { throw .notFound(.certificate, name, version) }
        return certificateBundle(found, name: name, vault: record)
    }

    func listCertificateVersions(vault: String, name: String) throws(KVFailure) -> [ObjectItem] {
        let record = try readVault(vault)
        guard let versions = record.certificates[name] else { throw .notFound(.certificate, name, "") }
        return versions.map {
            ObjectItem(id: record.id(.certificate, name, $0.meta.version), attributes: $0.meta.attributes(), tags: $0.meta.tags, x5t: $0.issued.x5t)
        }
    }

    /// Creates a certificate version and the key and secret versions that back it (same name and version).
    @discardableResult
    func createCertificate(vault: String, name: String, _ creation: CertificateCreation) throws(KVFailure) -> CertificateBundle {
        guard creation.contentType == Self.pkcs12ContentType || creation.contentType == Self.pemContentType else {
            throw .badParameter("secret_props.contentType must be application/x-pkcs12 or application/x-pem-file (got \(creation.contentType)).")
        }
        let issued: IssuedCertificate
        let secretValue: String
        do {
            let key = try KeyMaterial.generate(creation.keySpec)
            switch creation.issuerName.lowercased() {
            case "self": issued = try IssuedCertificate.selfSigned(creation.request, key: key)
            case "emulator", "unknown": issued = try authority.issue(creation.request, key: key)
            default: throw KVFailure.badParameter("issuer.name must be Self or Emulator (got \(creation.issuerName)).")
            }
            secretValue = creation.contentType == Self.pkcs12ContentType
                ? Data(try issued.pkcs12(password: "")).base64EncodedString()
                : issued.pemBundle()
        } catch let failure as KVFailure {
            throw failure
        } catch {
            throw KVFailure.badParameter("Certificate creation failed: \(error)")
        }
        return try store(issued, secretValue: secretValue, name: name, vault: vault, creation: creation)
    }

    /// Imports a certificate with its key: a PEM bundle (PKCS#8 key, certificates leaf first) or a base64 PFX (`pwd` its password).
    @discardableResult
    func importCertificate(vault: String, name: String, value: String, password: String?, contentType: String, tags: [String: String]?, enabled: Bool) throws(KVFailure) -> CertificateBundle {
        let issued: IssuedCertificate
        let secretValue: String
        do {
            let (key, certificates) = try Self.keyAndCertificates(value, password: password ?? "")
            guard !certificates.isEmpty else { throw KVFailure.badParameter("The imported value has no certificate.") }
            issued = try IssuedCertificate(key: try KeyMaterial(pkcs8DER: key), chainDER: CertificateChain.order(certificates).ordered)
            secretValue = contentType == Self.pkcs12ContentType ? Data(try issued.pkcs12(password: "")).base64EncodedString() : issued.pemBundle()
        } catch let failure as KVFailure {
            throw failure
        } catch {
            throw KVFailure.badParameter("The certificate could not be imported: \(error)")
        }
        let months = max(1, Int((issued.notAfter.timeIntervalSince(issued.notBefore) / (30.4 * 86400)).rounded()))
        let request = CertificateRequest(subject: issued.leafCertificate.subject.description, dnsNames: [], validityMonths: months)
        let spec = issued.key.spec
        return try store(issued, secretValue: secretValue, name: name, vault: vault,
                         creation: CertificateCreation(request: request, keySpec: spec, issuerName: "Unknown", contentType: contentType, tags: tags, enabled: enabled))
    }

    /// The private key (PKCS#8 DER) and certificates of a PEM bundle or a base64 PFX.
    static func keyAndCertificates(_ value: String, password: String) throws -> ([UInt8], [[UInt8]]) {
        // The SDKs send a PEM import base64-encoded, as they do a PFX; Key Vault accepts it either way.
        if !value.contains("-----BEGIN"), let decoded = Data(base64Encoded: value.filter { !$0.isWhitespace }),
           let text = String(data: decoded, encoding: .utf8), text.contains("-----BEGIN") {
            return try keyAndCertificates(text, password: password)
        }
        if value.contains("-----BEGIN") {
            let blocks = try PEMDocument.parseMultiple(pemString: value)
            guard let key = blocks.first(where: { $0.discriminator == "PRIVATE KEY" }) else {
                throw KVFailure.badParameter("The PEM has no 'PRIVATE KEY' (PKCS#8) block; convert with: openssl pkcs8 -topk8 -nocrypt")
            }
            return (key.derBytes, blocks.filter { $0.discriminator == "CERTIFICATE" }.map(\.derBytes))
        }
        guard let der = Data(base64Encoded: value.filter { !$0.isWhitespace }) else {
            throw KVFailure.badParameter("The value is neither PEM nor base64 PFX.")
        }
        let contents = try PKCS12Reader.read(Array(der), password: password)
        guard let key = contents.privateKeys.first else { throw KVFailure.badParameter("The PFX has no private key.") }
        return (key, contents.certificates)
    }

    private func store(_ issued: IssuedCertificate, secretValue: String, name: String, vault: String, creation: CertificateCreation) throws(KVFailure) -> CertificateBundle {
        var meta = VersionMeta(enabled: creation.enabled, tags: creation.tags)
        meta.notBefore = Int64(issued.notBefore.timeIntervalSince1970)
        meta.expires = Int64(issued.notAfter.timeIntervalSince1970)
        let policy = CertificatePolicy(
            keyProps: .init(exportable: true, kty: creation.keySpec.kty, keySize: creation.keySpec.rsaBits, crv: creation.keySpec.curveName, reuseKey: false),
            secretProps: .init(contentType: creation.contentType),
            x509Props: .init(subject: creation.request.subject, sans: .init(dnsNames: creation.request.dnsNames.isEmpty ? nil : creation.request.dnsNames),
                             ekus: creation.request.ekus, validityMonths: creation.request.validityMonths),
            issuer: .init(name: creation.issuerName), attributes: ObjectAttributes(enabled: true, created: meta.created, updated: meta.updated))
        let certificate = CertificateVersionRecord(meta: meta, issued: issued, policy: policy, contentType: creation.contentType)
        return try mutateVault(vault) { (v: inout VaultRecord) throws(KVFailure) -> CertificateBundle in
            let kid = v.id(.key, name, meta.version)
            v.deletedOperations.remove(name)
            v.certificates[name, default: []].append(certificate)
            v.keys[name, default: []].append(KeyVersionRecord(meta: meta, material: issued.key, managed: true))
            v.secrets[name, default: []].append(SecretVersionRecord(meta: meta, value: secretValue, contentType: creation.contentType, kid: kid))
            return certificateBundle(certificate, name: name, vault: v)
        }
    }

    /// The certificate's creation operation (`GET …/pending`); 404 once deleted, as Key Vault answers then.
    func certificateOperation(vault: String, name: String) throws(KVFailure) -> CertificateOperation {
        let record = try readVault(vault)
        guard record.certificates[name] != nil, !record.deletedOperations.contains(name) else { throw .pendingNotFound(name) }
        return Self.operation(record, name: name)
    }

    /// `DELETE …/pending`: answers the operation once, then it is gone.
    func deleteCertificateOperation(vault: String, name: String) throws(KVFailure) -> CertificateOperation {
        try mutateVault(vault) { (v: inout VaultRecord) throws(KVFailure) -> CertificateOperation in
            guard v.certificates[name] != nil, !v.deletedOperations.contains(name) else { throw .pendingNotFound(name) }
            v.deletedOperations.insert(name)
            return Self.operation(v, name: name)
        }
    }

    /// Creation here is synchronous, so every operation read back has completed; ids are built on the vault's own URL.
    static func operation(_ record: VaultRecord, name: String, status: String = "completed") -> CertificateOperation {
        let issuer = record.certificates[name]?.last?.policy.issuer?.name
        return CertificateOperation(id: "\(record.baseURL)/certificates/\(name)/pending", issuer: .init(name: issuer), status: status,
                                    target: "\(record.baseURL)/certificates/\(name)", requestId: UUID().uuidString.lowercased())
    }

    /// Enables or disables a certificate version together with its key and secret.
    func updateCertificate(vault: String, name: String, version: String, attributes: ObjectAttributes?, tags: [String: String]?) throws(KVFailure) -> CertificateBundle {
        try mutateVault(vault) { (v: inout VaultRecord) throws(KVFailure) -> CertificateBundle in
            guard var versions = v.certificates[name], let found = Self.pick(versions, version, meta: \.meta),
                  let index = versions.firstIndex(where: { $0.meta.version == found.meta.version }) else { throw .notFound(.certificate, name, version) }
            versions[index].meta.apply(attributes, tags: tags)
            v.certificates[name] = versions
            let id = found.meta.version
            if let i = v.secrets[name]?.firstIndex(where: { $0.meta.version == id }) { v.secrets[name]?[i].meta.apply(attributes, tags: tags) }
            if let i = v.keys[name]?.firstIndex(where: { $0.meta.version == id }) { v.keys[name]?[i].meta.apply(attributes, tags: tags) }
            return certificateBundle(versions[index], name: name, vault: v)
        }
    }
}

extension KeySpec {
    var rsaBits: Int? { if case .rsa(let bits) = self { return bits }; return nil }
    var curveName: String? { if case .ec(let curve) = self { return curve.rawValue }; return nil }
}
