import AzureIdentity
import Foundation
import KeyVault

extension EmulatorState {
    static let keyOps = ["encrypt", "decrypt", "sign", "verify", "wrapKey", "unwrapKey"]

    func keyBundle(_ record: KeyVersionRecord, name: String, vault: VaultRecord) -> KeyBundle {
        let jwk = record.material.publicJWK
        let kid = vault.id(.key, name, record.meta.version)
        let ops = record.material.spec.isEC ? ["sign", "verify"] : Self.keyOps
        return KeyBundle(key: JSONWebKey(kid: kid, kty: jwk["kty"] ?? "RSA", keyOps: ops, n: jwk["n"], e: jwk["e"], crv: jwk["crv"], x: jwk["x"], y: jwk["y"]),
                         attributes: record.meta.attributes(exportable: false), tags: record.meta.tags, managed: record.managed ? true : nil)
    }

    func getKey(vault: String, name: String, version: String) throws(KVFailure) -> KeyBundle {
        let record = try readVault(vault)
        guard let found = Self.pick(record.keys[name], version, meta: \.meta) else { throw .notFound(.key, name, version) }
        return keyBundle(found, name: name, vault: record)
    }

    /// Creates a key version (`POST /keys/{name}/create`).
    @discardableResult
    func createKey(vault: String, name: String, spec: KeySpec, tags: [String: String]?, enabled: Bool = true) throws(KVFailure) -> KeyBundle {
        let material: KeyMaterial
        do { material = try KeyMaterial.generate(spec) } catch { throw KVFailure.badParameter("Key generation failed: \(error)") }
        let record = KeyVersionRecord(meta: VersionMeta(enabled: enabled, tags: tags), material: material, managed: false)
        return try mutateVault(vault) { (v: inout VaultRecord) throws(KVFailure) -> KeyBundle in
            v.keys[name, default: []].append(record)
            return keyBundle(record, name: name, vault: v)
        }
    }

    func listKeyVersions(vault: String, name: String) throws(KVFailure) -> [ObjectItem] {
        let record = try readVault(vault)
        guard let versions = record.keys[name] else { throw .notFound(.key, name, "") }
        return versions.map {
            ObjectItem(kid: record.id(.key, name, $0.meta.version), attributes: $0.meta.attributes(exportable: false), tags: $0.meta.tags,
                       managed: $0.managed ? true : nil)
        }
    }

    /// Parses `kty` + `key_size`/`crv` as Key Vault accepts them.
    static func keySpec(kty: String?, size: Int?, curve: String?, field: String) throws(KVFailure) -> KeySpec {
        switch (kty ?? "RSA").uppercased() {
        case "RSA", "RSA-HSM":
            let bits = size ?? 2048
            guard [2048, 3072, 4096].contains(bits) else { throw .badParameter("\(field): RSA key size must be 2048, 3072 or 4096 (got \(bits)).") }
            return .rsa(bits: bits)
        case "EC", "EC-HSM":
            guard let c = ECCurve(rawValue: (curve ?? "P-256").uppercased()) else {
                throw .badParameter("\(field): EC curve must be P-256, P-384 or P-521 (got \(curve ?? "")).")
            }
            return .ec(curve: c)
        default:
            throw .badParameter("\(field): key type must be RSA or EC (got \(kty ?? "")).")
        }
    }
}

extension KeySpec {
    var isEC: Bool { if case .ec = self { return true }; return false }
    var kty: String { isEC ? "EC" : "RSA" }
}
