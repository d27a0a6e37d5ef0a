import AzureIdentity
import KeyVault

/// Why a mount failed. Messages name the parameter or object and the fix, never a secret value.
public enum ProviderError: Error, CustomStringConvertible, Equatable {
    /// A SecretProviderClass parameter or pod attribute is missing or invalid.
    case parameter(name: String, reason: String)
    /// One entry of `objects` is invalid.
    case object(index: Int, name: String, field: String, reason: String)
    /// Authentication could not be set up or failed.
    case identity(String)
    /// Entra ID (or IMDS) could not be reached, timed out, answered 5xx or kept throttling: a retry may succeed.
    case identityUnavailable(String)
    /// One or more objects could not be fetched or formatted; every failure is listed.
    case fetch([ObjectFailure])

    public var description: String {
        switch self {
        case .parameter(let name, let reason):
            return "SecretProviderClass parameter \(name): \(reason)"
        case .object(let index, let name, let field, let reason):
            let label = name.isEmpty ? "objects[\(index)]" : "objects[\(index)] (\(name))"
            return "\(label).\(field): \(reason)"
        case .identity(let reason), .identityUnavailable(let reason):
            return reason
        case .fetch(let failures):
            // The kinds of failure first, so a kubelet Event says at a glance whether to wait, fix access or fix names.
            var counts: [MountFailureClass: Int] = [:]
            for failure in failures { counts[failure.failureClass, default: 0] += 1 }
            let summary = MountFailureClass.allCases.compactMap { kind in counts[kind].map { "\(kind.phrase): \($0)" } }.joined(separator: ", ")
            return "\(Self.mountPrefix)[\(summary)] " + failures.map(\.description).joined(separator: "; ")
        }
    }

    /// Upstream's prefix of every failed Mount; akvs adds the kinds of failure in brackets right after it.
    public static let mountPrefix = "failed to mount objects, error: "

    /// The message of a failed Mount: upstream's wording, with the kind of failure first (`[not found: 1]`, `[identity rejected]`).
    public var mountMessage: String {
        let text = description
        if text.hasPrefix(Self.mountPrefix) { return text }
        if case .identityUnavailable = self { return "\(Self.mountPrefix)[Entra ID unreachable] \(text)" }
        return "\(Self.mountPrefix)[\(failureClass.phrase)] \(text)"
    }

    /// What kind of failure this is, for the message, the metrics and the decision to serve the last good content.
    public var failureClass: MountFailureClass {
        switch self {
        case .parameter, .object: return .configuration
        case .identity: return .identity
        case .identityUnavailable: return .unreachable
        case .fetch(let failures):
            // The worst one decides: any failure that is not an outage makes the mount not an outage.
            let classes = Set(failures.map(\.failureClass))
            return MountFailureClass.allCases.first { classes.contains($0) && !$0.isOutage } ?? classes.min { $0.rawValue < $1.rawValue } ?? .other
        }
    }

    /// The vault or Entra could not be reached or kept throttling: serving the last good content is safe.
    public var isOutage: Bool { failureClass.isOutage }
}

/// The kinds of mount failure a user acts on differently.
public enum MountFailureClass: String, CaseIterable, Sendable {
    case forbidden, notFound, disabled, identity, configuration, other, throttled, unreachable

    /// Worth waiting for: the vault or Entra will answer again.
    public var isOutage: Bool { self == .throttled || self == .unreachable }

    public var phrase: String {
        switch self {
        case .throttled: return "throttled by Key Vault (429)"
        case .unreachable: return "Key Vault unreachable"
        case .identity: return "identity rejected"
        case .forbidden: return "forbidden"
        case .notFound: return "not found"
        case .disabled: return "disabled"
        case .configuration: return "invalid configuration"
        case .other: return "other"
        }
    }
}

/// One object that could not be delivered, with the upstream wording.
public struct ObjectFailure: Error, CustomStringConvertible, Equatable, Sendable {
    public var type: String
    public var name: String
    public var version: String
    public var reason: String
    /// The vault was unavailable or throttling (429, 408, 5xx, transport): a retry may succeed.
    public var transient: Bool = false
    /// Key Vault's HTTP status and error code, when it answered.
    public var status: Int?
    public var code: String?

    public var failureClass: MountFailureClass {
        switch (status, code) {
        case (429?, _): return .throttled
        case (403?, let code?) where code.hasSuffix("Disabled"): return .disabled
        case (403?, _): return .forbidden
        case (404?, _): return .notFound
        case (401?, _): return .identity
        default: return transient ? .unreachable : .other
        }
    }

    public var description: String {
        "failed to get objectType:\(type), objectName:\(name), objectVersion:\(version): \(reason)"
    }
}
