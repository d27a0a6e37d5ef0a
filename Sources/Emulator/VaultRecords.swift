import Foundation
import KeyVault

/// Creates 32-hex-character version ids as Key Vault does.
func newVersionID() -> String {
    UUID().uuidString.replacingOccurrences(of: "-", with: "").lowercased()
}

/// Common version metadata.
struct VersionMeta: Sendable {
    var version: String
    var enabled: Bool
    var notBefore: Int64?
    var expires: Int64?
    var created: Int64
    var updated: Int64
    var tags: [String: String]?

    init(enabled: Bool = true, notBefore: Int64? = nil, expires: Int64? = nil, tags: [String: String]? = nil, now: Date = Date()) {
        self.version = newVersionID()
        self.enabled = enabled; self.notBefore = notBefore; self.expires = expires; self.tags = tags
        self.created = Int64(now.timeIntervalSince1970); self.updated = self.created
    }

    func attributes(exportable: Bool? = nil) -> ObjectAttributes {
        ObjectAttributes(enabled: enabled, nbf: notBefore, exp: expires, created: created, updated: updated,
                         recoveryLevel: "Recoverable+Purgeable", recoverableDays: 90, exportable: exportable)
    }
}

struct SecretVersionRecord: Sendable {
    var meta: VersionMeta
    var value: String
    var contentType: String?
    /// Key id when this secret backs a certificate.
    var kid: String?
}

struct KeyVersionRecord: Sendable {
    var meta: VersionMeta
    var material: KeyMaterial
    var managed: Bool
}

struct CertificateVersionRecord: Sendable {
    var meta: VersionMeta
    var issued: IssuedCertificate
    var policy: CertificatePolicy
    var contentType: String
}

/// One vault's objects (versions in creation order) and faults.
struct VaultRecord: Sendable {
    var name: String
    /// `https://NAME.vault.localhost:PORT`, the prefix of every object id.
    var baseURL: String
    var secrets: [String: [SecretVersionRecord]] = [:]
    var keys: [String: [KeyVersionRecord]] = [:]
    var certificates: [String: [CertificateVersionRecord]] = [:]
    /// Certificates whose (completed) creation operation was deleted: `GET …/pending` answers 404 until the next create.
    var deletedOperations: Set<String> = []
    var faults = FaultSettings()
    var throttleWindowStart = Date.distantPast
    var throttleCount = 0
    var throttleWriteCount = 0

    func id(_ kind: ObjectKind, _ name: String, _ version: String) -> String {
        "\(baseURL)/\(kind.collection)/\(name)/\(version)"
    }
}

/// An identity that can get tokens and the vaults it may use.
struct IdentityRecord: Sendable {
    var name: String
    var clientID: String
    var objectID: String
    var clientSecret: String?
    var managedIdentity: String?
    var resourceID: String?
    var federated: [FederatedCredentialSeed]
    /// Vault name → may write.
    var access: [String: Bool]
}
