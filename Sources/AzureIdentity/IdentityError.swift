/// Why a token could not be obtained. Messages name the field or the Entra error and the fix.
public enum IdentityError: Error, CustomStringConvertible, Equatable {
    case invalidInput(field: String, value: String, reason: String)
    /// Entra answered with an error (AADSTS code and description; never a secret).
    case entra(status: Int, error: String, description: String, codes: [Int])
    case managedIdentity(status: Int, message: String)
    case malformedResponse(endpoint: String, reason: String)
    case assertionUnavailable(reason: String)
    case transport(TransportError)

    public var description: String {
        switch self {
        case .invalidInput(let field, let value, let reason):
            return "\(field) '\(value)' is invalid: \(reason)"
        case .entra(let status, let error, let description, _):
            return "Entra ID rejected the token request (HTTP \(status), \(error)): \(description)"
        case .managedIdentity(let status, let message):
            return "managed identity endpoint answered HTTP \(status): \(message); check that the identity is assigned to the node (userAssignedIdentityID for a user-assigned identity)"
        case .malformedResponse(let endpoint, let reason):
            return "token endpoint \(endpoint) sent an unusable reply: \(reason)"
        case .assertionUnavailable(let reason):
            return "no client assertion (federated token) available: \(reason)"
        case .transport(let error):
            return error.description
        }
    }

    /// Whether a retry may succeed.
    public var isTransient: Bool {
        switch self {
        case .transport(let error): return error.isTransient
        case .entra(let status, _, _, _), .managedIdentity(let status, _): return status == 429 || status >= 500
        default: return false
        }
    }
}

/// Checks identity inputs early so a typo fails with a clear message instead of an Entra error.
public enum IdentityValidation {
    /// Tenant: a GUID or a verified domain name.
    public static func tenantID(_ value: String, field: String = "tenantId") throws(IdentityError) {
        let v = value.trimmingCharacters(in: .whitespaces)
        if v.isEmpty { throw .invalidInput(field: field, value: value, reason: "it is empty; set it to the directory (tenant) ID GUID") }
        if isGUID(v) { return }
        let allowed = v.unicodeScalars.allSatisfy { ($0.isASCII && ($0.properties.isAlphabetic || ("0"..."9").contains($0))) || $0 == "." || $0 == "-" }
        if !allowed || !v.contains(".") || v.count > 256 {
            throw .invalidInput(field: field, value: shown(value), reason: "expected a tenant GUID such as 72f988bf-86f1-41af-91ab-2d7cd011db47 or a domain such as contoso.onmicrosoft.com")
        }
    }

    /// Client (application) ID: a GUID.
    public static func clientID(_ value: String, field: String = "clientID") throws(IdentityError) {
        if !isGUID(value.trimmingCharacters(in: .whitespaces)) {
            throw .invalidInput(field: field, value: shown(value), reason: "expected the application (client) ID GUID of the app registration or managed identity"
                                + (looksLikeGUID(value) ? "" : "; is a secret in the wrong key (clientid and clientsecret swapped)?"))
        }
    }

    /// An identifier as it may be printed: a near-GUID (hex digits and dashes, a typo) or a lower-case domain is
    /// shown; anything else may be a secret pasted into the wrong field (a client secret in `clientid`), so only its
    /// length is.
    public static func shown(_ value: String) -> String {
        let v = value.trimmingCharacters(in: .whitespaces)
        if looksLikeGUID(v) { return v }
        let domain = v.count <= 253 && v.contains(".") && v.allSatisfy { $0.isASCII && ($0.isLowercase || $0.isNumber || $0 == "." || $0 == "-") }
        return domain ? v : "<a value of \(v.count) characters>"
    }

    /// Hex digits and dashes only, GUID-sized: an ID, perhaps mistyped, never a secret.
    static func looksLikeGUID(_ value: String) -> Bool {
        let v = value.trimmingCharacters(in: .whitespaces)
        return !v.isEmpty && v.count <= 40 && v.allSatisfy { $0.isHexDigit || $0 == "-" }
    }

    /// Whether `s` is a GUID in 8-4-4-4-12 hex form.
    public static func isGUID(_ s: String) -> Bool {
        let parts = s.split(separator: "-", omittingEmptySubsequences: false)
        guard parts.map(\.count) == [8, 4, 4, 4, 12] else { return false }
        return parts.allSatisfy { $0.allSatisfy(\.isHexDigit) }
    }
}

import Foundation
