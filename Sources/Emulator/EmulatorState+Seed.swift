import Foundation
import KeyVault

extension EmulatorState {
    /// Loads a seed: vaults first, then identities (which name vaults), issuers and objects.
    func apply(_ seed: Seed, source: String) throws(EmulatorError) {
        for vault in seed.vaults ?? [] {
            try addVault(vault.name)
            if let faults = vault.faults { try setFaults(faults, vault: vault.name) }
        }
        for identity in seed.identities ?? [] { try addIdentity(identity) }
        for issuer in seed.issuers ?? [] { try trust(issuer, source: source) }
        for vault in seed.vaults ?? [] {
            do {
                try seedObjects(vault)
            } catch let failure as KVFailure {
                throw .seed(path: source, field: "vaults[\(vault.name)]", reason: failure.message)
            } catch let error as EmulatorError {
                throw error
            } catch {
                throw .seed(path: source, field: "vaults[\(vault.name)]", reason: "\(error)")
            }
        }
    }

    private func trust(_ issuer: IssuerSeed, source: String) throws(EmulatorError) {
        var jwks = issuer.jwks
        if let file = issuer.jwksFile {
            let base = URL(fileURLWithPath: source).deletingLastPathComponent()
            let path = file.hasPrefix("/") ? file : base.appendingPathComponent(file).path
            guard let data = FileManager.default.contents(atPath: path), let parsed = try? JSONDecoder().decode(JSONValue.self, from: data) else {
                throw .seed(path: source, field: "issuers[\(issuer.issuer)].jwksFile", reason: "cannot read JSON from \(path)")
            }
            jwks = parsed
        }
        guard case .object(let object)? = jwks, case .array(let keys)? = object["keys"] else {
            throw .seed(path: source, field: "issuers[\(issuer.issuer)].jwks", reason: "must be a JWKS object with a keys array (or give jwksFile)")
        }
        trustIssuer(issuer.issuer, keys: keys)
    }

    private func seedObjects(_ vault: VaultSeed) throws {
        let field = "vaults[\(vault.name)]"
        for secret in vault.secrets ?? [] {
            try KeyVaultValidation.objectName(secret.name, field: "\(field).secrets[].name")
            let nbf = try Self.unixTime(secret.notBefore, field: "\(field).secrets[\(secret.name)].notBefore")
            let exp = try Self.unixTime(secret.expires, field: "\(field).secrets[\(secret.name)].expires")
            let versions = secret.versions ?? []
            guard secret.value != nil || !versions.isEmpty else {
                throw EmulatorError.invalid(field: "\(field).secrets[\(secret.name)]", reason: "give value or versions")
            }
            for v in versions {
                try setSecret(vault: vault.name, name: secret.name, value: v.value, contentType: v.contentType ?? secret.contentType,
                              tags: v.tags ?? secret.tags, enabled: v.enabled ?? true, notBefore: nbf, expires: exp)
            }
            if let value = secret.value {
                try setSecret(vault: vault.name, name: secret.name, value: value, contentType: secret.contentType, tags: secret.tags,
                              enabled: secret.enabled ?? true, notBefore: nbf, expires: exp)
            }
        }
        for key in vault.keys ?? [] {
            try KeyVaultValidation.objectName(key.name, field: "\(field).keys[].name")
            let spec = try Self.keySpec(kty: key.kty, size: key.size, curve: key.curve, field: "\(field).keys[\(key.name)]")
            try createKey(vault: vault.name, name: key.name, spec: spec, tags: key.tags, enabled: key.enabled ?? true)
        }
        for cert in vault.certificates ?? [] {
            try KeyVaultValidation.objectName(cert.name, field: "\(field).certificates[].name")
            let spec = try Self.keySpec(kty: cert.kty, size: cert.size, curve: cert.curve, field: "\(field).certificates[\(cert.name)]")
            let request = CertificateRequest(subject: cert.subject ?? "CN=\(cert.name)", dnsNames: cert.dnsNames ?? [], validityMonths: cert.validityMonths ?? 12)
            try createCertificate(vault: vault.name, name: cert.name, CertificateCreation(
                request: request, keySpec: spec, issuerName: cert.issuer ?? "Self", contentType: cert.contentType ?? Self.pkcs12ContentType,
                tags: cert.tags, enabled: cert.enabled ?? true))
        }
    }

    static func unixTime(_ text: String?, field: String) throws(EmulatorError) -> Int64? {
        guard let text else { return nil }
        guard let date = ISO8601DateFormatter().date(from: text) else {
            throw .invalid(field: field, reason: "'\(text)' is not an ISO 8601 time such as 2030-01-01T00:00:00Z")
        }
        return Int64(date.timeIntervalSince1970)
    }
}
