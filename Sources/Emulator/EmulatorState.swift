import AzureIdentity
import Foundation
import KeyVault

/// A Key Vault error reply (status, code, message, inner code).
struct KVFailure: Error, Sendable {
    var status: Int
    var code: String
    var message: String
    var inner: String?

    static func notFound(_ kind: ObjectKind, _ name: String, _ version: String) -> KVFailure {
        let id = version.isEmpty ? name : "\(name)/\(version)"
        let (code, article) = switch kind {
        case .secret: ("SecretNotFound", "A secret")
        case .key: ("KeyNotFound", "A key")
        case .certificate: ("CertificateNotFound", "A certificate")
        }
        return KVFailure(status: 404, code: code, message: "\(article) with (name/id) \(id) was not found in this key vault. If you recently deleted this \(kind.rawValue) you may be able to recover it using the correct recovery command. For help resolving this issue, please see https://go.microsoft.com/fwlink/?linkid=2125182")
    }

    static func disabled(_ kind: ObjectKind) -> KVFailure {
        let inner = switch kind { case .secret: "SecretDisabled"; case .key: "KeyDisabled"; case .certificate: "CertificateDisabled" }
        return KVFailure(status: 403, code: "Forbidden", message: "Operation get is not allowed on a disabled \(kind.rawValue).", inner: inner)
    }

    static func pendingNotFound(_ name: String) -> KVFailure {
        KVFailure(status: 404, code: "PendingCertificateNotFound", message: "Pending certificate not found: \(name)")
    }

    static func badParameter(_ message: String) -> KVFailure {
        KVFailure(status: 400, code: "BadParameter", message: message)
    }
}

/// Everything the emulator knows: vaults, identities and trusted issuers. Shared by all handlers.
actor EmulatorState {
    let tenantID: String
    /// Key Vault token audience this emulator accepts (no trailing slash).
    let resource: String
    let authority: CertificateAuthority
    private let vaultBaseURL: @Sendable (String) -> String
    private(set) var vaults: [String: VaultRecord] = [:]
    private(set) var identities: [String: IdentityRecord] = [:]
    /// Issuer URL → JWKS (`{"keys":[…]}`).
    private(set) var issuers: [String: [JSONValue]] = [:]

    init(tenantID: String, resource: String, authority: CertificateAuthority, vaultBaseURL: @escaping @Sendable (String) -> String) {
        self.tenantID = tenantID
        self.resource = resource
        self.authority = authority
        self.vaultBaseURL = vaultBaseURL
    }

    // MARK: Vaults, identities, issuers

    func addVault(_ name: String) throws(EmulatorError) {
        do { try KeyVaultValidation.vaultName(name, field: "vaults[].name") } catch { throw .invalid(field: "vaults[].name", reason: error.description) }
        if vaults[name] == nil { vaults[name] = VaultRecord(name: name, baseURL: vaultBaseURL(name)) }
    }

    var vaultNames: [String] { vaults.keys.sorted() }

    func vault(_ name: String) -> VaultRecord? { vaults[name] }

    func addIdentity(_ seed: IdentitySeed) throws(EmulatorError) {
        guard IdentityValidation.isGUID(seed.clientId) else {
            throw .invalid(field: "identities[\(seed.name)].clientId", reason: "must be a GUID such as 11111111-1111-4111-8111-111111111111")
        }
        if let mi = seed.managedIdentity, !["user", "system"].contains(mi) {
            throw .invalid(field: "identities[\(seed.name)].managedIdentity", reason: "must be user or system")
        }
        var access: [String: Bool] = [:]
        for (vault, level) in seed.access ?? [:] {
            guard vaults[vault] != nil else { throw .invalid(field: "identities[\(seed.name)].access.\(vault)", reason: "no vault named \(vault) is seeded") }
            guard level == "read" || level == "write" else { throw .invalid(field: "identities[\(seed.name)].access.\(vault)", reason: "must be read or write") }
            access[vault] = level == "write"
        }
        identities[seed.clientId.lowercased()] = IdentityRecord(
            name: seed.name, clientID: seed.clientId.lowercased(), objectID: seed.objectId ?? UUID().uuidString.lowercased(),
            clientSecret: seed.clientSecret, managedIdentity: seed.managedIdentity, resourceID: seed.resourceId,
            federated: seed.federatedCredentials ?? [], access: access)
    }

    func identity(clientID: String) -> IdentityRecord? { identities[clientID.lowercased()] }

    /// Finds the managed identity IMDS should answer for.
    func managedIdentity(clientID: String?, objectID: String?, resourceID: String?) -> IdentityRecord? {
        let managed = identities.values.filter { $0.managedIdentity != nil }
        if let id = clientID { return managed.first { $0.clientID == id.lowercased() } }
        if let id = objectID { return managed.first { $0.objectID == id.lowercased() } }
        if let id = resourceID { return managed.first { $0.resourceID?.lowercased() == id.lowercased() } }
        return managed.first { $0.managedIdentity == "system" }
    }

    func trustIssuer(_ issuer: String, keys: [JSONValue]) { issuers[issuer] = keys }

    func issuerKeys(_ issuer: String) -> [JSONValue]? { issuers[issuer] }

    /// Whether `clientID` may read (or write) `vault`.
    func permits(clientID: String, vault: String, write: Bool) -> Bool {
        guard let granted = identities[clientID.lowercased()]?.access[vault] else { return false }
        return write ? granted : true
    }

    // MARK: Faults

    func setFaults(_ faults: FaultSettings, vault: String) throws(EmulatorError) {
        try faults.validate(vault: vault)
        guard vaults[vault] != nil else { throw .invalid(field: "vault", reason: "no vault named \(vault)") }
        vaults[vault]?.faults = faults
        vaults[vault]?.throttleCount = 0
        vaults[vault]?.throttleWriteCount = 0
        vaults[vault]?.throttleWindowStart = .distantPast
    }

    func faults(vault: String) -> FaultSettings? { vaults[vault]?.faults }

    /// Failures of the token endpoint.
    private(set) var tokenFaults = TokenFaultSettings()

    func setTokenFaults(_ faults: TokenFaultSettings) throws(EmulatorError) {
        try faults.validate()
        tokenFaults = faults
    }

    /// Counts an accepted request against the vault's throttle window; returns Retry-After seconds when over.
    func admitThrottled(vault: String, write: Bool = false, now: Date = Date()) -> Int? {
        guard var record = vaults[vault], let throttle = record.faults.throttle else { return nil }
        if now.timeIntervalSince(record.throttleWindowStart) >= throttle.windowSeconds {
            record.throttleWindowStart = now
            record.throttleCount = 0
            record.throttleWriteCount = 0
        }
        let overWrites = write && record.throttleWriteCount >= (throttle.writeLimit ?? Int.max)
        if record.throttleCount >= throttle.limit || overWrites {
            // Rejected requests do not count against the limit, as in Key Vault.
            vaults[vault] = record
            return max(1, Int((throttle.windowSeconds - now.timeIntervalSince(record.throttleWindowStart)).rounded(.up)))
        }
        record.throttleCount += 1
        if write { record.throttleWriteCount += 1 }
        vaults[vault] = record
        return nil
    }

    // MARK: Object storage helpers

    func mutateVault<T>(_ name: String, _ body: (inout VaultRecord) throws(KVFailure) -> T) throws(KVFailure) -> T {
        guard var record = vaults[name] else { throw KVFailure(status: 404, code: "VaultNotFound", message: "Vault \(name) does not exist in this emulator") }
        let result = try body(&record)
        vaults[name] = record
        return result
    }

    func readVault(_ name: String) throws(KVFailure) -> VaultRecord {
        guard let record = vaults[name] else { throw KVFailure(status: 404, code: "VaultNotFound", message: "Vault \(name) does not exist in this emulator") }
        return record
    }
}
