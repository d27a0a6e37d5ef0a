import Foundation
import SecretsStoreAPI
import StructuredJSON

/// Untyped access: any kind by its ResourceKind, as JSON (for tools that read many kinds, like `akvs doctor`).
extension KubernetesClient {
    /// One object, or nil when it does not exist.
    public func object(_ kind: ResourceKind, name: String, namespace: String? = nil) async throws -> JSONValue? {
        do {
            let reply = try await send(.GET, Self.path(kind, namespace: kind.namespaced ? namespace : nil, name: name))
            return try Self.decode(JSONValue.self, reply.body)
        } catch let error as KubernetesError where error.isNotFound {
            return nil
        }
    }

    /// Every object of a kind (all pages); `namespace` nil lists across all namespaces.
    public func objects(_ kind: ResourceKind, namespace: String? = nil, labelSelector: String? = nil, fieldSelector: String? = nil) async throws -> [JSONValue] {
        var items: [JSONValue] = []
        var next: String?
        repeat {
            let query = Self.query([("labelSelector", labelSelector), ("fieldSelector", fieldSelector), ("limit", "500"), ("continue", next)])
            let reply = try await send(.GET, Self.path(kind, namespace: kind.namespaced ? namespace : nil) + query)
            let page = try Self.decode(JSONValue.self, reply.body)
            items += Self.completedItems(of: page, kind: kind)
            next = page[path: ["metadata", "continue"]]?.stringValue
        } while !(next ?? "").isEmpty
        return items
    }

    /// The items of a list reply, each with `apiVersion` and `kind`: kube-apiserver leaves both out of the items of
    /// a built-in kind's list (custom resources keep them), so they come from the list itself, as client-go does.
    static func completedItems(of page: JSONValue, kind: ResourceKind) -> [JSONValue] {
        let listKind = page["kind"]?.stringValue ?? ""
        let itemKind = listKind.hasSuffix("List") ? String(listKind.dropLast(4)) : kind.kind
        let apiVersion = page["apiVersion"]?.stringValue ?? kind.apiVersion
        return (page["items"]?.arrayValue ?? []).map { item in
            guard case .object(var members) = item else { return item }
            if members["kind"]?.stringValue?.isEmpty ?? true { members["kind"] = .string(itemKind.isEmpty ? kind.kind : itemKind) }
            if members["apiVersion"]?.stringValue?.isEmpty ?? true { members["apiVersion"] = .string(apiVersion) }
            return .object(members)
        }
    }

    /// POST of a JSON body (e.g. a SubjectAccessReview); the server's reply.
    public func create(_ kind: ResourceKind, namespace: String? = nil, body: JSONValue) async throws -> JSONValue {
        let reply = try await send(.POST, Self.path(kind, namespace: kind.namespaced ? namespace : nil), body: body.encoded())
        return try Self.decode(JSONValue.self, reply.body)
    }

    /// PATCH of any kind (e.g. a merge patch of `status`); the stored object.
    public func patch(_ kind: ResourceKind, name: String, namespace: String? = nil, _ patch: Patch, subresource: String? = nil) async throws -> JSONValue {
        let path = Self.path(kind, namespace: kind.namespaced ? namespace : nil, name: name, subresource: subresource)
        return try Self.decode(JSONValue.self, try await send(.PATCH, path, body: patch.body.encoded(), contentType: patch.contentType).body)
    }

    /// PUT of a whole object (its metadata.resourceVersion makes it conditional).
    public func replace(_ kind: ResourceKind, body: JSONValue, fieldManager: String? = nil) async throws -> JSONValue {
        let name = body[path: ["metadata", "name"]]?.stringValue ?? ""
        let path = Self.path(kind, namespace: kind.namespaced ? body[path: ["metadata", "namespace"]]?.stringValue : nil, name: name)
            + Self.query([("fieldManager", fieldManager)])
        return try Self.decode(JSONValue.self, try await send(.PUT, path, body: body.encoded()).body)
    }

    /// Server-side apply of any kind.
    public func applyObject(_ kind: ResourceKind, name: String, namespace: String? = nil, configuration: JSONValue, fieldManager: String, force: Bool = false) async throws -> JSONValue {
        let path = Self.path(kind, namespace: kind.namespaced ? namespace : nil, name: name)
            + Self.query([("fieldManager", fieldManager), ("force", force ? "true" : nil)])
        return try Self.decode(JSONValue.self, try await send(.PATCH, path, body: configuration.encoded(), contentType: "application/apply-patch+yaml").body)
    }

    /// DELETE of any kind.
    public func delete(_ kind: ResourceKind, name: String, namespace: String? = nil) async throws {
        _ = try await send(.DELETE, Self.path(kind, namespace: kind.namespaced ? namespace : nil, name: name))
    }

    /// GET of a non-resource path such as `/version` or `/.well-known/openid-configuration`.
    public func document(_ path: String) async throws -> JSONValue {
        try Self.decode(JSONValue.self, try await send(.GET, path).body)
    }
}
