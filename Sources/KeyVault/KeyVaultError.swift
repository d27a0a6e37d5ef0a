import AzureIdentity

/// Why a Key Vault call failed: the service's code and a hint, never a secret value.
public enum KeyVaultError: Error, CustomStringConvertible, Equatable {
    case invalidInput(field: String, value: String, reason: String)
    /// The service answered with an error body.
    case service(status: Int, code: String, innerCode: String?, message: String, vault: String, object: String)
    case authentication(IdentityError)
    case transport(TransportError)
    case malformedResponse(vault: String, object: String, reason: String)

    public var description: String {
        switch self {
        case .invalidInput(let field, let value, let reason):
            return "\(field) '\(value)' is invalid: \(reason)"
        case .service(let status, let code, let inner, let message, let vault, let object):
            let codeText = inner.map { "\(code)/\($0)" } ?? code
            return "Key Vault \(vault) answered HTTP \(status) \(codeText) for \(object): \(message) — \(hint)"
        case .authentication(let error):
            return "could not get a token for Key Vault: \(error.description)"
        case .transport(let error):
            return error.description
        case .malformedResponse(let vault, let object, let reason):
            return "Key Vault \(vault) sent an unusable reply for \(object): \(reason)"
        }
    }

    /// What to do about it.
    public var hint: String {
        guard case .service(let status, let code, let inner, _, let vault, _) = self else { return "" }
        switch (status, inner ?? code) {
        case (404, _): return "check objectName, objectType and objectVersion, and that the object exists in vault \(vault)"
        case (403, "SecretDisabled"), (403, "KeyDisabled"), (403, "CertificateDisabled"):
            return "the version is disabled; enable it or pick another objectVersion"
        case (403, "ForbiddenByFirewall"): return "the vault firewall blocks this client; allow its network or use a private endpoint"
        case (403, _): return "grant the identity read access on vault \(vault) (RBAC role 'Key Vault Secrets User'/'Key Vault Certificate User'/'Key Vault Crypto User', or get permission in the access policy)"
        case (401, _): return "the token was rejected; check tenantId and cloudName match the vault's tenant and cloud"
        case (429, _): return "the vault is throttling; lower the request rate or raise rotationPollInterval"
        case (400, _): return "the request was rejected as malformed; check object names and versions"
        default: return status >= 500 ? "the service failed; it will be retried" : "see the Key Vault error code"
        }
    }

    /// Key Vault's error code, if the service answered.
    public var code: String? {
        if case .service(_, let code, let inner, _, _, _) = self { return inner ?? code }
        return nil
    }

    /// HTTP status, if the service answered.
    public var status: Int? {
        if case .service(let status, _, _, _, _, _) = self { return status }
        return nil
    }

    /// Whether a retry may succeed.
    public var isTransient: Bool {
        switch self {
        case .transport(let error): return error.isTransient
        case .service(let status, _, _, _, _, _): return status == 429 || status == 408 || status >= 500
        case .authentication(let e): return e.isTransient
        default: return false
        }
    }
}

/// Key Vault naming rules, checked before any request.
public enum KeyVaultValidation {
    /// Vault names: 3-24 characters, letters, digits and dashes, start with a letter, end with a letter or digit, no `--`.
    public static func vaultName(_ name: String, field: String = "keyvaultName") throws(KeyVaultError) {
        let reasonPrefix = "a vault name has 3-24 characters (letters, digits, '-'), starts with a letter, ends with a letter or digit and has no '--'"
        guard (3...24).contains(name.count), name.allSatisfy({ $0.isASCII && ($0.isLetter || $0.isNumber || $0 == "-") }),
              name.first?.isLetter == true, name.last.map({ $0.isLetter || $0.isNumber }) == true, !name.contains("--") else {
            throw .invalidInput(field: field, value: name, reason: reasonPrefix)
        }
    }

    /// Object names: 1-127 characters, letters, digits and dashes.
    public static func objectName(_ name: String, field: String = "objectName") throws(KeyVaultError) {
        guard (1...127).contains(name.count), name.allSatisfy({ $0.isASCII && ($0.isLetter || $0.isNumber || $0 == "-") }) else {
            throw .invalidInput(field: field, value: name, reason: "an object name has 1-127 characters: letters, digits and '-'")
        }
    }

    /// Versions: empty (latest) or 32 hex characters.
    public static func objectVersion(_ version: String, field: String = "objectVersion") throws(KeyVaultError) {
        guard version.isEmpty || (version.count == 32 && version.allSatisfy(\.isHexDigit)) else {
            throw .invalidInput(field: field, value: version, reason: "a version is the 32 hex characters at the end of the object id; leave it empty for the latest")
        }
    }
}
