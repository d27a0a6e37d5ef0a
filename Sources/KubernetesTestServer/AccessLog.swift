import StructuredJSON

/// Who a request came from: the admin token (all-powerful, like `system:masters`), or a service account by a token
/// this server issued (authorized by the stored RBAC objects, as kube-apiserver's RBAC authorizer would).
enum Identity: Sendable, Equatable {
    case admin
    case serviceAccount(namespace: String, name: String)

    var userName: String {
        switch self {
        case .admin: return "admin"
        case .serviceAccount(let namespace, let name): return "system:serviceaccount:\(namespace):\(name)"
        }
    }
    var groups: [String] {
        switch self {
        case .admin: return ["system:masters", "system:authenticated"]
        case .serviceAccount(let namespace, _): return ["system:serviceaccounts", "system:serviceaccounts:\(namespace)", "system:authenticated"]
        }
    }
}

/// Every authorization decision for service-account requests, as RBAC sees them (`get`/`list`/`watch`/…, API group,
/// resource with subresource): what a role's code really calls, to compare with what its ClusterRole grants.
actor AccessLog {
    struct Key: Hashable, Sendable {
        var user: String
        var verb: String
        var group: String
        var resource: String
        var namespace: String
        var allowed: Bool
    }
    private var counts: [Key: Int] = [:]

    func record(_ attributes: Authorizer.Attributes, allowed: Bool) {
        let resource = attributes.subresource.isEmpty ? attributes.resource : "\(attributes.resource)/\(attributes.subresource)"
        counts[Key(user: attributes.user, verb: attributes.verb, group: attributes.group, resource: resource, namespace: attributes.namespace, allowed: allowed), default: 0] += 1
    }

    /// `[{user, verb, group, resource, namespace, allowed, count}]`, optionally starting over.
    func snapshot(reset: Bool) -> JSONValue {
        let sorted = counts.sorted { ($0.key.user, $0.key.resource, $0.key.verb, $0.key.namespace) < ($1.key.user, $1.key.resource, $1.key.verb, $1.key.namespace) }
        if reset { counts = [:] }
        return .array(sorted.map { key, count in
            ["user": .string(key.user), "verb": .string(key.verb), "group": .string(key.group), "resource": .string(key.resource),
             "namespace": .string(key.namespace), "allowed": .bool(key.allowed), "count": .number(Double(count))]
        })
    }
}
