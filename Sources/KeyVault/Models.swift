import Foundation

/// Attributes shared by secrets, keys and certificates (times are Unix seconds on the wire).
public struct ObjectAttributes: Codable, Sendable, Equatable {
    public var enabled: Bool?
    public var nbf: Int64?
    public var exp: Int64?
    public var created: Int64?
    public var updated: Int64?
    public var recoveryLevel: String?
    public var recoverableDays: Int?
    public var exportable: Bool?

    public init(enabled: Bool? = true, nbf: Int64? = nil, exp: Int64? = nil, created: Int64? = nil, updated: Int64? = nil,
                recoveryLevel: String? = nil, recoverableDays: Int? = nil, exportable: Bool? = nil) {
        self.enabled = enabled; self.nbf = nbf; self.exp = exp; self.created = created; self.updated = updated
        self.recoveryLevel = recoveryLevel; self.recoverableDays = recoverableDays; self.exportable = exportable
    }
}

/// A secret version with its value (`GET /secrets/{name}/{version}`).
public struct SecretBundle: Codable, Sendable, Equatable {
    public var value: String?
    public var id: String?
    public var contentType: String?
    public var attributes: ObjectAttributes?
    public var tags: [String: String]?
    /// Set only on a secret that backs a certificate.
    public var kid: String?
    public var managed: Bool?
    public var previousVersion: String?

    public init(value: String? = nil, id: String? = nil, contentType: String? = nil, attributes: ObjectAttributes? = nil,
                tags: [String: String]? = nil, kid: String? = nil, managed: Bool? = nil, previousVersion: String? = nil) {
        self.value = value; self.id = id; self.contentType = contentType; self.attributes = attributes
        self.tags = tags; self.kid = kid; self.managed = managed; self.previousVersion = previousVersion
    }
}

/// A list entry: never carries the value.
public struct ObjectItem: Codable, Sendable, Equatable {
    public var id: String?
    public var kid: String?
    public var attributes: ObjectAttributes?
    public var tags: [String: String]?
    public var contentType: String?
    public var managed: Bool?
    public var x5t: String?

    public init(id: String? = nil, kid: String? = nil, attributes: ObjectAttributes? = nil, tags: [String: String]? = nil,
                contentType: String? = nil, managed: Bool? = nil, x5t: String? = nil) {
        self.id = id; self.kid = kid; self.attributes = attributes; self.tags = tags
        self.contentType = contentType; self.managed = managed; self.x5t = x5t
    }
}

/// One page of a list operation.
public struct ItemPage: Codable, Sendable {
    public var value: [ObjectItem]
    public var nextLink: String?

    public init(value: [ObjectItem], nextLink: String?) { self.value = value; self.nextLink = nextLink }
}

/// JSON Web Key (public parts; byte fields base64url without padding).
public struct JSONWebKey: Codable, Sendable, Equatable {
    public var kid: String?
    public var kty: String
    public var keyOps: [String]?
    public var n: String?
    public var e: String?
    public var crv: String?
    public var x: String?
    public var y: String?

    enum CodingKeys: String, CodingKey { case kid, kty, keyOps = "key_ops", n, e, crv, x, y }

    public init(kid: String? = nil, kty: String, keyOps: [String]? = nil, n: String? = nil, e: String? = nil, crv: String? = nil, x: String? = nil, y: String? = nil) {
        self.kid = kid; self.kty = kty; self.keyOps = keyOps; self.n = n; self.e = e; self.crv = crv; self.x = x; self.y = y
    }
}

/// A key version (`GET /keys/{name}/{version}`).
public struct KeyBundle: Codable, Sendable, Equatable {
    public var key: JSONWebKey
    public var attributes: ObjectAttributes?
    public var tags: [String: String]?
    public var managed: Bool?

    public init(key: JSONWebKey, attributes: ObjectAttributes? = nil, tags: [String: String]? = nil, managed: Bool? = nil) {
        self.key = key; self.attributes = attributes; self.tags = tags; self.managed = managed
    }
}

/// Certificate policy, as much of it as clients read.
public struct CertificatePolicy: Codable, Sendable, Equatable {
    public struct KeyProperties: Codable, Sendable, Equatable {
        public var exportable: Bool?; public var kty: String?; public var keySize: Int?; public var crv: String?; public var reuseKey: Bool?
        enum CodingKeys: String, CodingKey { case exportable, kty, keySize = "key_size", crv, reuseKey = "reuse_key" }
        public init(exportable: Bool?, kty: String?, keySize: Int?, crv: String?, reuseKey: Bool?) {
            self.exportable = exportable; self.kty = kty; self.keySize = keySize; self.crv = crv; self.reuseKey = reuseKey
        }
    }
    public struct SecretProperties: Codable, Sendable, Equatable {
        public var contentType: String?
        public init(contentType: String?) { self.contentType = contentType }
    }
    public struct X509Properties: Codable, Sendable, Equatable {
        public struct SubjectAlternativeNames: Codable, Sendable, Equatable {
            public var dnsNames: [String]?
            enum CodingKeys: String, CodingKey { case dnsNames = "dns_names" }
            public init(dnsNames: [String]?) { self.dnsNames = dnsNames }
        }
        public var subject: String?; public var sans: SubjectAlternativeNames?; public var ekus: [String]?; public var validityMonths: Int?
        enum CodingKeys: String, CodingKey { case subject, sans, ekus, validityMonths = "validity_months" }
        public init(subject: String?, sans: SubjectAlternativeNames?, ekus: [String]?, validityMonths: Int?) {
            self.subject = subject; self.sans = sans; self.ekus = ekus; self.validityMonths = validityMonths
        }
    }
    public struct Issuer: Codable, Sendable, Equatable {
        public var name: String?
        public init(name: String?) { self.name = name }
    }
    public var id: String?
    public var keyProps: KeyProperties?
    public var secretProps: SecretProperties?
    public var x509Props: X509Properties?
    public var issuer: Issuer?
    public var attributes: ObjectAttributes?

    enum CodingKeys: String, CodingKey { case id, keyProps = "key_props", secretProps = "secret_props", x509Props = "x509_props", issuer, attributes }

    public init(id: String? = nil, keyProps: KeyProperties? = nil, secretProps: SecretProperties? = nil, x509Props: X509Properties? = nil,
                issuer: Issuer? = nil, attributes: ObjectAttributes? = nil) {
        self.id = id; self.keyProps = keyProps; self.secretProps = secretProps; self.x509Props = x509Props; self.issuer = issuer; self.attributes = attributes
    }
}

/// A certificate version (`GET /certificates/{name}/{version}`): public DER in `cer`.
public struct CertificateBundle: Codable, Sendable, Equatable {
    public var id: String?
    public var kid: String?
    public var sid: String?
    /// base64url SHA-1 thumbprint.
    public var x5t: String?
    /// Standard base64 of the DER certificate.
    public var cer: String?
    public var contentType: String?
    public var attributes: ObjectAttributes?
    public var policy: CertificatePolicy?
    public var tags: [String: String]?

    public init(id: String? = nil, kid: String? = nil, sid: String? = nil, x5t: String? = nil, cer: String? = nil, contentType: String? = nil,
                attributes: ObjectAttributes? = nil, policy: CertificatePolicy? = nil, tags: [String: String]? = nil) {
        self.id = id; self.kid = kid; self.sid = sid; self.x5t = x5t; self.cer = cer; self.contentType = contentType
        self.attributes = attributes; self.policy = policy; self.tags = tags
    }
}

/// Key Vault's error body `{"error":{"code","message","innererror"}}`.
public struct KeyVaultErrorBody: Codable, Sendable {
    public struct Inner: Codable, Sendable {
        public var code: String?
        public var message: String?
        public var innererror: InnerCode?
        public init(code: String?, message: String?, innererror: InnerCode? = nil) { self.code = code; self.message = message; self.innererror = innererror }
    }
    public struct InnerCode: Codable, Sendable {
        public var code: String?
        public init(code: String?) { self.code = code }
    }
    public var error: Inner
    public init(code: String, message: String, innerCode: String? = nil) {
        self.error = Inner(code: code, message: message, innererror: innerCode.map { InnerCode(code: $0) })
    }
}

/// Kinds of vault objects.
public enum ObjectKind: String, Sendable, CaseIterable, Codable {
    case secret, key, certificate

    /// URL collection segment.
    public var collection: String {
        switch self { case .secret: "secrets"; case .key: "keys"; case .certificate: "certificates" }
    }
}

extension String {
    /// Last path segment of an object id (its version).
    public var keyVaultVersion: String { split(separator: "/").last.map(String.init) ?? "" }
}
