import SecretsStoreAPI
import StructuredJSON

/// RBAC evaluation for SubjectAccessReview, as kube-apiserver's RBAC authorizer decides it: a subject is allowed
/// when a ClusterRoleBinding, or a RoleBinding in the request's namespace, binds it to a rule that matches.
/// It answers SubjectAccessReviews and authorizes the requests of service accounts (tokens the test server issued).
struct Authorizer: Sendable {
    struct Attributes {
        var user: String
        var groups: [String]
        var namespace: String
        var verb: String
        var group: String
        var resource: String
        var subresource: String
        var name: String
    }

    static let rbac = "rbac.authorization.k8s.io"
    static let roles = ResourceKind(group: rbac, version: "v1", kind: "Role", plural: "roles")
    static let clusterRoles = ResourceKind(group: rbac, version: "v1", kind: "ClusterRole", plural: "clusterroles", namespaced: false)
    static let roleBindings = ResourceKind(group: rbac, version: "v1", kind: "RoleBinding", plural: "rolebindings")
    static let clusterRoleBindings = ResourceKind(group: rbac, version: "v1", kind: "ClusterRoleBinding", plural: "clusterrolebindings", namespaced: false)

    /// Reads a SubjectAccessReview spec.
    static func attributes(_ review: JSONValue) throws(APIError) -> Attributes {
        guard let spec = review["spec"] else { throw .required(kind: "SubjectAccessReview.authorization.k8s.io", "", field: "spec", "the review needs a spec") }
        let user = spec["user"]?.stringValue ?? ""
        var groups = (spec["groups"]?.arrayValue ?? []).compactMap(\.stringValue)
        guard !user.isEmpty || !groups.isEmpty else { throw .invalid(kind: "SubjectAccessReview.authorization.k8s.io", "", field: "spec.user", value: "\"\"", "at least one of user or group must be specified") }
        guard let resource = spec["resourceAttributes"] else {
            throw .required(kind: "SubjectAccessReview.authorization.k8s.io", "", field: "spec.resourceAttributes", "the test server answers resourceAttributes only")
        }
        // A service account's token carries these groups; kube-apiserver adds them from the user name.
        let parts = user.split(separator: ":", omittingEmptySubsequences: false).map(String.init)
        if parts.count == 4, parts[0] == "system", parts[1] == "serviceaccount" {
            groups += ["system:serviceaccounts", "system:serviceaccounts:\(parts[2])", "system:authenticated"]
        }
        func text(_ key: String) -> String { resource[key]?.stringValue ?? "" }
        return Attributes(user: user, groups: groups, namespace: text("namespace"), verb: text("verb"), group: text("group"),
                          resource: text("resource"), subresource: text("subresource"), name: text("name"))
    }

    /// The decision and kube-apiserver's reason text.
    static func decide(_ a: Attributes, roles: [JSONValue], clusterRoles: [JSONValue], roleBindings: [JSONValue],
                       clusterRoleBindings: [JSONValue]) -> (allowed: Bool, reason: String) {
        if a.groups.contains("system:masters") { return (true, "") }
        func rules(_ ref: JSONValue?, namespace: String?) -> (kind: String, name: String, rules: [JSONValue]) {
            let kind = ref?["kind"]?.stringValue ?? "", name = ref?["name"]?.stringValue ?? ""
            let pool = kind == "Role" ? roles.filter { $0[path: ["metadata", "namespace"]]?.stringValue == namespace } : clusterRoles
            let role = pool.first { $0[path: ["metadata", "name"]]?.stringValue == name }
            return (kind, name, role?["rules"]?.arrayValue ?? [])
        }
        let bindings = clusterRoleBindings.map { ($0, "ClusterRoleBinding", nil as String?) }
            + roleBindings.filter { $0[path: ["metadata", "namespace"]]?.stringValue == a.namespace && !a.namespace.isEmpty }
                .map { ($0, "RoleBinding", $0[path: ["metadata", "namespace"]]?.stringValue) }
        for (binding, bindingKind, namespace) in bindings {
            guard let subject = (binding["subjects"]?.arrayValue ?? []).first(where: { matches($0, a, bindingNamespace: namespace) }) else { continue }
            let role = rules(binding["roleRef"], namespace: namespace)
            guard role.rules.contains(where: { allows($0, a) }) else { continue }
            let bindingName = namespace.map { "\(binding[path: ["metadata", "name"]]?.stringValue ?? "")/\($0)" } ?? (binding[path: ["metadata", "name"]]?.stringValue ?? "")
            let subjectName = subject["kind"]?.stringValue == "ServiceAccount"
                ? "\(subject["name"]?.stringValue ?? "")/\(subject["namespace"]?.stringValue ?? namespace ?? "")" : (subject["name"]?.stringValue ?? "")
            return (true, "RBAC: allowed by \(bindingKind) \"\(bindingName)\" of \(role.kind) \"\(role.name)\" to \(subject["kind"]?.stringValue ?? "") \"\(subjectName)\"")
        }
        return (false, "")
    }

    static func matches(_ subject: JSONValue, _ a: Attributes, bindingNamespace: String?) -> Bool {
        let name = subject["name"]?.stringValue ?? ""
        switch subject["kind"]?.stringValue {
        case "User": return name == a.user
        case "Group": return a.groups.contains(name)
        case "ServiceAccount":
            let namespace = subject["namespace"]?.stringValue ?? bindingNamespace ?? ""
            return a.user == "system:serviceaccount:\(namespace):\(name)"
        default: return false
        }
    }

    static func allows(_ rule: JSONValue, _ a: Attributes) -> Bool {
        func list(_ key: String) -> [String] { (rule[key]?.arrayValue ?? []).compactMap(\.stringValue) }
        let verbs = list("verbs"), groups = list("apiGroups"), resources = list("resources"), names = list("resourceNames")
        guard verbs.contains("*") || verbs.contains(a.verb) else { return false }
        guard groups.contains("*") || groups.contains(a.group) else { return false }
        let combined = a.subresource.isEmpty ? a.resource : "\(a.resource)/\(a.subresource)"
        let resourceMatch = resources.contains { r in
            r == "*" || r == combined || (!a.subresource.isEmpty && (r == "*/\(a.subresource)" || r == "\(a.resource)/*"))
        }
        guard resourceMatch else { return false }
        return names.isEmpty || names.contains(a.name)
    }
}
