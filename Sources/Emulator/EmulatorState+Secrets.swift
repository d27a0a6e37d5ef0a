import Foundation
import KeyVault

extension EmulatorState {
    /// Picks a version (latest when empty) from a creation-ordered list.
    static func pick<V>(_ versions: [V]?, _ version: String, meta: (V) -> VersionMeta) -> V? {
        guard let versions, !versions.isEmpty else { return nil }
        if version.isEmpty || version.lowercased() == "latest" { return versions.last }
        return versions.first { meta($0).version == version.lowercased() }
    }

    func secretBundle(_ record: SecretVersionRecord, name: String, vault: VaultRecord, includeValue: Bool = true) -> SecretBundle {
        let versions = vault.secrets[name] ?? []
        let index = versions.firstIndex { $0.meta.version == record.meta.version }
        let previous = index.flatMap { $0 > 0 ? versions[$0 - 1].meta.version : nil }
        return SecretBundle(value: includeValue ? record.value : nil, id: vault.id(.secret, name, record.meta.version),
                            contentType: record.contentType, attributes: record.meta.attributes(), tags: record.meta.tags,
                            kid: record.kid, managed: record.kid != nil ? true : nil, previousVersion: previous)
    }

    func getSecret(vault: String, name: String, version: String) throws(KVFailure) -> SecretBundle {
        let record = try readVault(vault)
        guard let found = Self.pick(record.secrets[name], version, meta: \.meta) else { throw .notFound(.secret, name, version) }
        guard found.meta.enabled else { throw .disabled(.secret) }
        return secretBundle(found, name: name, vault: record)
    }

    @discardableResult
    func setSecret(vault: String, name: String, value: String, contentType: String?, tags: [String: String]?, enabled: Bool = true,
                   notBefore: Int64? = nil, expires: Int64? = nil) throws(KVFailure) -> SecretBundle {
        guard value.utf8.count <= 25 * 1024 else { throw .badParameter("Secret value is too large: the maximum is 25 KB.") }
        let record = SecretVersionRecord(meta: VersionMeta(enabled: enabled, notBefore: notBefore, expires: expires, tags: tags),
                                         value: value, contentType: contentType, kid: nil)
        return try mutateVault(vault) { (v: inout VaultRecord) throws(KVFailure) -> SecretBundle in
            if v.secrets[name]?.last?.kid != nil {
                throw KVFailure(status: 409, code: "Conflict", message: "Secret \(name) is managed by a certificate and cannot be set directly.")
            }
            v.secrets[name, default: []].append(record)
            return secretBundle(record, name: name, vault: v)
        }
    }

    /// PATCH of a version: enabled, nbf, exp, contentType, tags.
    func updateSecret(vault: String, name: String, version: String, patch: SecretBundle) throws(KVFailure) -> SecretBundle {
        try mutateVault(vault) { (v: inout VaultRecord) throws(KVFailure) -> SecretBundle in
            guard var versions = v.secrets[name], let found = Self.pick(versions, version, meta: \.meta),
                  let index = versions.firstIndex(where: { $0.meta.version == found.meta.version }) else { throw .notFound(.secret, name, version) }
            var record = versions[index]
            record.meta.apply(patch.attributes, tags: patch.tags)
            if let ct = patch.contentType { record.contentType = ct }
            versions[index] = record
            v.secrets[name] = versions
            return secretBundle(record, name: name, vault: v)
        }
    }

    func listSecretVersions(vault: String, name: String) throws(KVFailure) -> [ObjectItem] {
        let record = try readVault(vault)
        guard let versions = record.secrets[name] else { throw .notFound(.secret, name, "") }
        return versions.map { item(secret: $0, name: name, vault: record, id: record.id(.secret, name, $0.meta.version)) }
    }

    func listSecrets(vault: String) throws(KVFailure) -> [ObjectItem] {
        let record = try readVault(vault)
        return record.secrets.keys.sorted().compactMap { name in
            record.secrets[name]?.last.map { item(secret: $0, name: name, vault: record, id: "\(record.baseURL)/secrets/\(name)") }
        }
    }

    private func item(secret: SecretVersionRecord, name: String, vault: VaultRecord, id: String) -> ObjectItem {
        ObjectItem(id: id, attributes: secret.meta.attributes(), tags: secret.meta.tags, contentType: secret.contentType,
                   managed: secret.kid != nil ? true : nil)
    }
}

extension VersionMeta {
    mutating func apply(_ attributes: ObjectAttributes?, tags newTags: [String: String]?) {
        if let a = attributes {
            if let e = a.enabled { enabled = e }
            if let n = a.nbf { notBefore = n }
            if let x = a.exp { expires = x }
        }
        if let newTags { tags = newTags }
        updated = Int64(Date().timeIntervalSince1970)
    }
}

extension EmulatorState {
    /// GET secret with optional `outContentType` conversion (certificate-backed secrets only, api-version 2025-07-01+).
    func getSecret(vault: String, name: String, version: String, outContentType: String?) throws(KVFailure) -> SecretBundle {
        var bundle = try getSecret(vault: vault, name: name, version: version)
        guard let wanted = outContentType, !wanted.isEmpty, wanted != bundle.contentType else { return bundle }
        guard bundle.kid != nil else {
            throw .badParameter("outContentType is only supported for secrets that back a certificate.")
        }
        guard wanted == Self.pkcs12ContentType || wanted == Self.pemContentType else {
            throw .badParameter("outContentType must be application/x-pkcs12 or application/x-pem-file.")
        }
        let record = try readVault(vault)
        let versionID = bundle.id?.keyVaultVersion ?? ""
        guard let cert = record.certificates[name]?.first(where: { $0.meta.version == versionID }) else { throw .notFound(.certificate, name, versionID) }
        do {
            bundle.value = wanted == Self.pkcs12ContentType ? Data(try cert.issued.pkcs12(password: "")).base64EncodedString() : cert.issued.pemBundle()
        } catch {
            throw KVFailure(status: 500, code: "InternalServerError", message: "PKCS#12 export failed: \(error)")
        }
        bundle.contentType = wanted
        return bundle
    }
}
