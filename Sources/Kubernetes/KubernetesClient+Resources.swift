import Foundation
import NIOCore
import NIOHTTP1
import SecretsStoreAPI
import StructuredJSON

/// List parameters.
public struct ListOptions: Sendable {
    public var labelSelector: String?
    public var fieldSelector: String?
    public var limit: Int?
    public var continueToken: String?
    public init(labelSelector: String? = nil, fieldSelector: String? = nil, limit: Int? = nil, continueToken: String? = nil) {
        self.labelSelector = labelSelector; self.fieldSelector = fieldSelector; self.limit = limit; self.continueToken = continueToken
    }
}

/// How to delete.
public struct DeleteOptions: Codable, Sendable {
    public struct Preconditions: Codable, Sendable {
        public var uid: String?
        public var resourceVersion: String?
    }
    public var apiVersion = "v1"
    public var kind = "DeleteOptions"
    public var preconditions: Preconditions?
    /// `Background` (default), `Foreground` or `Orphan`.
    public var propagationPolicy: String?
    public init(uid: String? = nil, resourceVersion: String? = nil, propagationPolicy: String? = nil) {
        if uid != nil || resourceVersion != nil { preconditions = Preconditions(uid: uid, resourceVersion: resourceVersion) }
        self.propagationPolicy = propagationPolicy
    }
}

/// A patch body and its media type.
public enum Patch: Sendable {
    /// RFC 7386 merge patch.
    case merge(JSONValue)
    /// RFC 6902 JSON patch operations.
    case json([JSONValue])
    /// Strategic merge patch (core types only).
    case strategic(JSONValue)

    var contentType: String {
        switch self {
        case .merge: return "application/merge-patch+json"
        case .json: return "application/json-patch+json"
        case .strategic: return "application/strategic-merge-patch+json"
        }
    }
    var body: JSONValue {
        switch self { case .merge(let v), .strategic(let v): return v; case .json(let ops): return .array(ops) }
    }
}

extension KubernetesClient {
    /// The namespace to use when a call names none.
    func ns<T: APIObject>(_ type: T.Type, _ namespace: String?) -> String? {
        T.resourceKind.namespaced ? (namespace ?? configuration.namespace) : nil
    }

    public func get<T: APIObject>(_ type: T.Type, name: String, namespace: String? = nil) async throws -> T {
        let reply = try await send(.GET, Self.path(T.resourceKind, namespace: ns(type, namespace), name: name))
        return try Self.decode(T.self, reply.body)
    }

    /// One page; `namespace` nil lists across all namespaces.
    public func list<T: APIObject>(_ type: T.Type, namespace: String?, options: ListOptions = .init()) async throws -> ObjectList<T> {
        let query = Self.query([("labelSelector", options.labelSelector), ("fieldSelector", options.fieldSelector),
                                ("limit", options.limit.map(String.init)), ("continue", options.continueToken)])
        let reply = try await send(.GET, Self.path(T.resourceKind, namespace: namespace) + query)
        return try Self.decode(ObjectList<T>.self, reply.body)
    }

    /// Every page of a list, and the resourceVersion to watch from.
    public func listAll<T: APIObject>(_ type: T.Type, namespace: String?, labelSelector: String? = nil, fieldSelector: String? = nil,
                                      pageSize: Int = 500) async throws -> (items: [T], resourceVersion: String) {
        var items: [T] = []
        var options = ListOptions(labelSelector: labelSelector, fieldSelector: fieldSelector, limit: pageSize)
        var resourceVersion: String?
        while true {
            let page = try await list(type, namespace: namespace, options: options)
            items.append(contentsOf: page.items)
            if resourceVersion == nil { resourceVersion = page.metadata.resourceVersion }
            guard let next = page.metadata.continue, !next.isEmpty else { break }
            options.continueToken = next
        }
        return (items, resourceVersion ?? "")
    }

    public func create<T: APIObject>(_ object: T, fieldManager: String? = nil) async throws -> T {
        let path = Self.path(T.resourceKind, namespace: ns(T.self, object.metadata.namespace)) + Self.query([("fieldManager", fieldManager)])
        return try Self.decode(T.self, try await send(.POST, path, body: try Self.encode(object)).body)
    }

    /// PUT; the object's resourceVersion makes it conditional (409 Conflict when stale).
    public func update<T: APIObject>(_ object: T, fieldManager: String? = nil) async throws -> T {
        try await put(object, subresource: nil, fieldManager: fieldManager)
    }

    /// PUT on `/status`.
    public func updateStatus<T: APIObject>(_ object: T, fieldManager: String? = nil) async throws -> T {
        try await put(object, subresource: "status", fieldManager: fieldManager)
    }

    func put<T: APIObject>(_ object: T, subresource: String?, fieldManager: String?) async throws -> T {
        guard let name = object.metadata.name else { throw KubernetesError.configuration("update of a \(T.resourceKind.kind) needs metadata.name") }
        let path = Self.path(T.resourceKind, namespace: ns(T.self, object.metadata.namespace), name: name, subresource: subresource)
            + Self.query([("fieldManager", fieldManager)])
        return try Self.decode(T.self, try await send(.PUT, path, body: try Self.encode(object)).body)
    }

    public func patch<T: APIObject>(_ type: T.Type, name: String, namespace: String? = nil, _ patch: Patch, subresource: String? = nil,
                                    fieldManager: String? = nil) async throws -> T {
        let path = Self.path(T.resourceKind, namespace: ns(type, namespace), name: name, subresource: subresource) + Self.query([("fieldManager", fieldManager)])
        return try Self.decode(T.self, try await send(.PATCH, path, body: patch.body.encoded(), contentType: patch.contentType).body)
    }

    /// Server-side apply of a typed object (its set fields are the applied configuration).
    public func apply<T: APIObject>(_ object: T, fieldManager: String, force: Bool = false, subresource: String? = nil) async throws -> T {
        try await apply(T.self, name: object.metadata.name ?? "", namespace: object.metadata.namespace,
                        configuration: try JSONValue(encoding: object), fieldManager: fieldManager, force: force, subresource: subresource)
    }

    /// Server-side apply of a partial configuration (must carry apiVersion and kind).
    public func apply<T: APIObject>(_ type: T.Type, name: String, namespace: String? = nil, configuration: JSONValue, fieldManager: String,
                                    force: Bool = false, subresource: String? = nil) async throws -> T {
        let path = Self.path(T.resourceKind, namespace: ns(type, namespace), name: name, subresource: subresource)
            + Self.query([("fieldManager", fieldManager), ("force", force ? "true" : nil)])
        return try Self.decode(T.self, try await send(.PATCH, path, body: configuration.encoded(), contentType: "application/apply-patch+yaml").body)
    }

    public func delete<T: APIObject>(_ type: T.Type, name: String, namespace: String? = nil, options: DeleteOptions = .init()) async throws {
        _ = try await send(.DELETE, Self.path(T.resourceKind, namespace: ns(type, namespace), name: name), body: try Self.encode(options))
    }

    /// TokenRequest: a service-account token for the audiences (at least 600 s).
    public func requestToken(serviceAccount: String, namespace: String, audiences: [String], expirationSeconds: Int = 3600) async throws -> ServiceAccountToken {
        let body: JSONValue = ["apiVersion": "authentication.k8s.io/v1", "kind": "TokenRequest",
                               "spec": ["audiences": .array(audiences.map { .string($0) }), "expirationSeconds": .number(Double(expirationSeconds))]]
        let path = Self.path(ServiceAccount.resourceKind, namespace: namespace, name: serviceAccount, subresource: "token")
        let reply = try await send(.POST, path, body: body.encoded())
        let value = try Self.decode(JSONValue.self, reply.body)
        guard let status = value["status"], let token = status["token"]?.stringValue, let expires = status["expirationTimestamp"]?.stringValue else {
            throw KubernetesError.invalidResponse("TokenRequest for \(namespace)/\(serviceAccount) has no status.token")
        }
        return ServiceAccountToken(token: token, expirationTimestamp: expires)
    }
}
