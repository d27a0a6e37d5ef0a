import Foundation
import Serving

/// What a workload asks to be restarted for, in the annotations Reloader's users already write (facts of its
/// interface), plus akvs' own debounce.
public struct Triggers: Sendable, Equatable {
    public static let auto = "reloader.stakater.com/auto"
    public static let secrets = "secret.reloader.stakater.com/reload"
    public static let classes = "secretproviderclass.reloader.stakater.com/reload"
    public static let debounce = "akvs.io/restart-debounce"
    /// On the workload: the inputs (Secret data digests, rotated class versions) its pods were last started with.
    public static let inputsAnnotation = "akvs.io/restart-inputs"
    /// On the pod template, with `kubectl.kubernetes.io/restartedAt`: which inputs a restart was for.
    public static let restartedFor = "akvs.io/restarted-for"
    public static let restartedAt = "kubectl.kubernetes.io/restartedAt"

    /// Every Secret and SecretProviderClass the pod template references.
    public var auto = false
    public var secrets: Set<String> = []
    public var classes: Set<String> = []
    public var debounce: Duration?

    /// The triggers of a workload's annotations; nil when it asks for none (the restarter ignores it).
    public init?(annotations: [String: String]?) {
        let a = annotations ?? [:]
        auto = a[Self.auto]?.trimmingCharacters(in: .whitespaces).lowercased() == "true"
        secrets = Self.names(a[Self.secrets])
        classes = Self.names(a[Self.classes])
        guard auto || !secrets.isEmpty || !classes.isEmpty else { return nil }
        debounce = a[Self.debounce].flatMap { DurationText.parse($0) }.flatMap { $0 >= .zero ? $0 : nil }
    }

    /// Whether annotations ask for restarts (the restarter's cache keeps only such workloads).
    public static func wanted(_ annotations: [String: String]?) -> Bool { Triggers(annotations: annotations) != nil }

    static func names(_ text: String?) -> Set<String> {
        Set((text ?? "").split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) }.filter { !$0.isEmpty })
    }

    /// The inputs these triggers watch for a pod template that references `references`.
    public func inputs(_ references: WorkloadBody.References) -> Set<Input> {
        let secretNames = secrets.union(auto ? references.secrets : [])
        let classNames = classes.union(auto ? references.classes : [])
        return Set(secretNames.map { Input.secret($0) } + classNames.map { Input.secretProviderClass($0) })
    }
}

/// One thing a workload's pods depend on: a Secret's data, or the object versions a SecretProviderClass mounts.
public enum Input: Hashable, Sendable, Comparable, CustomStringConvertible {
    case secret(String)
    case secretProviderClass(String)

    /// `Secret/db-creds`, `SecretProviderClass/vault`: the key in `akvs.io/restart-inputs`.
    public var description: String {
        switch self {
        case .secret(let name): "Secret/\(name)"
        case .secretProviderClass(let name): "SecretProviderClass/\(name)"
        }
    }

    public init?(_ text: String) {
        if text.hasPrefix("Secret/") { self = .secret(String(text.dropFirst(7))) }
        else if text.hasPrefix("SecretProviderClass/") { self = .secretProviderClass(String(text.dropFirst(20))) }
        else { return nil }
    }

    public var name: String {
        switch self { case .secret(let n), .secretProviderClass(let n): n }
    }

    public static func < (a: Input, b: Input) -> Bool { a.description < b.description }
}
