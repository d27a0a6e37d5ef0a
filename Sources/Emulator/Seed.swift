import Foundation
import Yams

/// The emulator's seed file: vaults, objects, identities, trusted issuers.
public struct Seed: Codable, Sendable {
    public var tenantId: String?
    public var vaults: [VaultSeed]?
    public var identities: [IdentitySeed]?
    public var issuers: [IssuerSeed]?

    public init(tenantId: String? = nil, vaults: [VaultSeed]? = nil, identities: [IdentitySeed]? = nil, issuers: [IssuerSeed]? = nil) {
        self.tenantId = tenantId; self.vaults = vaults; self.identities = identities; self.issuers = issuers
    }

    /// Parses seed YAML; errors name the file and the offending path.
    public static func load(path: String) throws(EmulatorError) -> Seed {
        guard let data = FileManager.default.contents(atPath: path), let text = String(data: data, encoding: .utf8) else {
            throw .seed(path: path, field: "(file)", reason: "cannot read the file; check the path passed to --seed")
        }
        return try parse(text, source: path)
    }

    /// Replaces the placeholder issuer `EMULATOR` with the emulator's own OIDC issuer URL.
    mutating func resolveEmulatorIssuer(_ url: String) {
        guard var list = identities else { return }
        for i in list.indices {
            list[i].federatedCredentials = list[i].federatedCredentials?.map { credential in
                var c = credential
                if c.issuer == "EMULATOR" { c.issuer = url }
                return c
            }
        }
        identities = list
    }

    public static func parse(_ yaml: String, source: String) throws(EmulatorError) -> Seed {
        do {
            return try YAMLDecoder().decode(Seed.self, from: yaml)
        } catch let DecodingError.typeMismatch(_, context), let DecodingError.valueNotFound(_, context) {
            throw .seed(path: source, field: context.codingPath.map(\.stringValue).joined(separator: "."), reason: context.debugDescription)
        } catch let DecodingError.keyNotFound(key, context) {
            throw .seed(path: source, field: (context.codingPath + [key]).map(\.stringValue).joined(separator: "."), reason: "is required")
        } catch let DecodingError.dataCorrupted(context) {
            let path = context.codingPath.map(\.stringValue).joined(separator: ".")
            let detail = context.underlyingError.map { " (\($0))" } ?? ""
            throw .seed(path: source, field: path.isEmpty ? "(document)" : path, reason: context.debugDescription + detail)
        } catch {
            throw .seed(path: source, field: "(document)", reason: "not valid YAML: \(error)")
        }
    }
}

/// Fault settings of one vault (seed and admin API).
public struct FaultSettings: Codable, Sendable, Equatable {
    /// Requests accepted per window before 429; Key Vault allows 4,000 transactions and 300 secret
    /// creates per vault per 10 s (`{limit: 4000, writeLimit: 300, windowSeconds: 10}`).
    public struct Throttle: Codable, Sendable, Equatable {
        public var limit: Int
        /// Extra cap on writes (PUT/POST/PATCH) within the same window.
        public var writeLimit: Int?
        public var windowSeconds: Double
        public init(limit: Int, writeLimit: Int? = nil, windowSeconds: Double) {
            self.limit = limit; self.writeLimit = writeLimit; self.windowSeconds = windowSeconds
        }
    }
    public var latencyMs: Double?
    public var jitterMs: Double?
    /// Share of requests (0…1) answered with 500.
    public var errorRate: Double?
    public var throttle: Throttle?
    /// Every request answered with 503.
    public var outage: Bool?

    public init(latencyMs: Double? = nil, jitterMs: Double? = nil, errorRate: Double? = nil, throttle: Throttle? = nil, outage: Bool? = nil) {
        self.latencyMs = latencyMs; self.jitterMs = jitterMs; self.errorRate = errorRate; self.throttle = throttle; self.outage = outage
    }

    /// Checks ranges; the message names the field.
    public func validate(vault: String) throws(EmulatorError) {
        if let l = latencyMs, l < 0 || l > 600_000 { throw .invalid(field: "vaults[\(vault)].faults.latencyMs", reason: "must be 0…600000") }
        if let j = jitterMs, j < 0 || j > 600_000 { throw .invalid(field: "vaults[\(vault)].faults.jitterMs", reason: "must be 0…600000") }
        if let r = errorRate, r < 0 || r > 1 { throw .invalid(field: "vaults[\(vault)].faults.errorRate", reason: "must be between 0 and 1") }
        if let t = throttle, t.limit < 0 || t.windowSeconds <= 0 || (t.writeLimit ?? 0) < 0 {
            throw .invalid(field: "vaults[\(vault)].faults.throttle", reason: "limit must be ≥ 0 and windowSeconds > 0 (Key Vault allows 4000 per 10 s)")
        }
    }
}

/// Failures of the Entra token endpoint (all tenants and clients): outages and a share of 503s.
public struct TokenFaultSettings: Codable, Sendable, Equatable {
    /// Share of token requests (0…1) answered 503 temporarily_unavailable.
    public var errorRate: Double?
    /// Every token request answered 503.
    public var outage: Bool?

    public init(errorRate: Double? = nil, outage: Bool? = nil) { self.errorRate = errorRate; self.outage = outage }

    /// Checks ranges; the message names the field.
    public func validate() throws(EmulatorError) {
        if let r = errorRate, r < 0 || r > 1 { throw .invalid(field: "token.faults.errorRate", reason: "must be between 0 and 1") }
    }

    /// Whether this request fails.
    func fails() -> Bool { outage == true || (errorRate.map { $0 > 0 && Double.random(in: 0..<1) < $0 } ?? false) }
}

public struct VaultSeed: Codable, Sendable {
    public var name: String
    public var faults: FaultSettings?
    public var secrets: [SecretSeed]?
    public var keys: [KeySeed]?
    public var certificates: [CertificateSeed]?
    public init(name: String, faults: FaultSettings? = nil, secrets: [SecretSeed]? = nil, keys: [KeySeed]? = nil, certificates: [CertificateSeed]? = nil) {
        self.name = name; self.faults = faults; self.secrets = secrets; self.keys = keys; self.certificates = certificates
    }
}

public struct SecretVersionSeed: Codable, Sendable {
    public var value: String
    public var contentType: String?
    public var enabled: Bool?
    public var tags: [String: String]?
}

public struct SecretSeed: Codable, Sendable {
    public var name: String
    public var value: String?
    public var versions: [SecretVersionSeed]?
    public var contentType: String?
    public var tags: [String: String]?
    public var enabled: Bool?
    public var notBefore: String?
    public var expires: String?
    public init(name: String, value: String) { self.name = name; self.value = value }
}

public struct KeySeed: Codable, Sendable {
    public var name: String
    public var kty: String?
    public var size: Int?
    public var curve: String?
    public var enabled: Bool?
    public var tags: [String: String]?
}

public struct CertificateSeed: Codable, Sendable {
    public var name: String
    public var subject: String?
    public var dnsNames: [String]?
    public var issuer: String?
    public var kty: String?
    public var size: Int?
    public var curve: String?
    public var contentType: String?
    public var validityMonths: Int?
    public var enabled: Bool?
    public var tags: [String: String]?
}

public struct FederatedCredentialSeed: Codable, Sendable, Equatable {
    public var issuer: String
    public var subject: String
    public var audience: String?
}

public struct IdentitySeed: Codable, Sendable {
    public var name: String
    public var clientId: String
    public var clientSecret: String?
    public var objectId: String?
    /// `user` or `system` for a managed identity reached through IMDS.
    public var managedIdentity: String?
    public var resourceId: String?
    public var federatedCredentials: [FederatedCredentialSeed]?
    /// Vault name → `read` or `write`.
    public var access: [String: String]?

    public init(name: String, clientId: String, clientSecret: String? = nil, objectId: String? = nil, managedIdentity: String? = nil,
                resourceId: String? = nil, federatedCredentials: [FederatedCredentialSeed]? = nil, access: [String: String]? = nil) {
        self.name = name; self.clientId = clientId; self.clientSecret = clientSecret; self.objectId = objectId
        self.managedIdentity = managedIdentity; self.resourceId = resourceId; self.federatedCredentials = federatedCredentials; self.access = access
    }
}

public struct IssuerSeed: Codable, Sendable {
    public var issuer: String
    public var jwks: JSONValue?
    public var jwksFile: String?
}

/// Emulator failures: each names the field or file and the fix.
public enum EmulatorError: Error, CustomStringConvertible, Equatable {
    case seed(path: String, field: String, reason: String)
    case invalid(field: String, reason: String)
    case startup(String)

    public var description: String {
        switch self {
        case .seed(let path, let field, let reason): return "seed \(path): \(field): \(reason)"
        case .invalid(let field, let reason): return "\(field): \(reason)"
        case .startup(let reason): return "emulator failed to start: \(reason)"
        }
    }
}
