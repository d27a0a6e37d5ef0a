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
    /// One or more objects could not be fetched or formatted; every failure is listed.
    case fetch([ObjectFailure])

    public var description: String {
        switch self {
        case .parameter(let name, let reason):
            return "SecretProviderClass parameter \(name): \(reason)"
        case .object(let index, let name, let field, let reason):
            let label = name.isEmpty ? "objects[\(index)]" : "objects[\(index)] (\(name))"
            return "\(label).\(field): \(reason)"
        case .identity(let reason):
            return reason
        case .fetch(let failures):
            return "failed to mount objects, error: " + failures.map(\.description).joined(separator: "; ")
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

    public var description: String {
        "failed to get objectType:\(type), objectName:\(name), objectVersion:\(version): \(reason)"
    }
}
