/// Where a kind of object lives in the Kubernetes API.
public struct ResourceKind: Sendable, Hashable, CustomStringConvertible {
    /// "" for the core group.
    public var group: String
    public var version: String
    public var kind: String
    /// The lower-case plural used in URLs, e.g. `secretsyncs`.
    public var plural: String
    public var namespaced: Bool

    public init(group: String, version: String, kind: String, plural: String, namespaced: Bool = true) {
        self.group = group; self.version = version; self.kind = kind; self.plural = plural; self.namespaced = namespaced
    }

    /// `v1` or `group/version`.
    public var apiVersion: String { group.isEmpty ? version : "\(group)/\(version)" }

    /// `/api/v1` or `/apis/group/version`.
    public var groupVersionPath: String { group.isEmpty ? "/api/\(version)" : "/apis/\(group)/\(version)" }

    public var description: String { group.isEmpty ? plural : "\(plural).\(group)" }
}

/// A Kubernetes object with a Swift type.
public protocol APIObject: Codable, Sendable {
    static var resourceKind: ResourceKind { get }
    var metadata: ObjectMeta { get set }
}

extension APIObject {
    /// `namespace/name` (or `name` for cluster-scoped objects): the key caches and queues use.
    public var key: String { ObjectKey(namespace: metadata.namespace, name: metadata.name ?? "").description }
}

/// Namespace and name of one object.
public struct ObjectKey: Sendable, Hashable, CustomStringConvertible, Comparable {
    public var namespace: String?
    public var name: String
    public init(namespace: String?, name: String) { self.namespace = namespace.flatMap { $0.isEmpty ? nil : $0 }; self.name = name }
    public var description: String { namespace.map { "\($0)/\(name)" } ?? name }
    public static func < (a: ObjectKey, b: ObjectKey) -> Bool { a.description < b.description }
}
