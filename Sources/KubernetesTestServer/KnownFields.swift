import StructuredJSON

/// The top-level fields of the built-in kinds the test server serves. kube-apiserver drops any other field of a
/// built-in object (and warns, or refuses with `fieldValidation=Strict`); the test server does the same at the top
/// level and in `metadata`. Unknown fields deeper inside a spec are kept: the test server has no built-in schemas.
enum KnownFields {
    static let workload: Set<String> = ["spec", "status"]
    static let byKind: [String: Set<String>] = [
        "/Secret": ["data", "stringData", "type", "immutable"],
        "/ConfigMap": ["data", "binaryData", "immutable"],
        "/ServiceAccount": ["secrets", "imagePullSecrets", "automountServiceAccountToken"],
        "/Namespace": workload, "/Pod": workload, "/Service": workload, "/Node": workload, "/ReplicationController": workload, "/PodTemplate": ["template"],
        "/Event": ["involvedObject", "reason", "message", "source", "firstTimestamp", "lastTimestamp", "count", "type", "eventTime",
                   "series", "action", "related", "reportingComponent", "reportingInstance"],
        "events.k8s.io/Event": ["eventTime", "series", "reportingController", "reportingInstance", "action", "reason", "regarding", "related",
                                "note", "type", "deprecatedSource", "deprecatedFirstTimestamp", "deprecatedLastTimestamp", "deprecatedCount"],
        "coordination.k8s.io/Lease": ["spec"],
        "apps/DaemonSet": workload, "apps/Deployment": workload, "apps/ReplicaSet": workload, "apps/StatefulSet": workload,
        "batch/Job": workload, "batch/CronJob": workload,
        "rbac.authorization.k8s.io/ClusterRole": ["rules", "aggregationRule"], "rbac.authorization.k8s.io/Role": ["rules"],
        "rbac.authorization.k8s.io/ClusterRoleBinding": ["subjects", "roleRef"], "rbac.authorization.k8s.io/RoleBinding": ["subjects", "roleRef"],
        "storage.k8s.io/CSIDriver": ["spec"], "storage.k8s.io/CSINode": ["spec"],
        "apiextensions.k8s.io/CustomResourceDefinition": workload,
        "admissionregistration.k8s.io/ValidatingAdmissionPolicy": workload, "admissionregistration.k8s.io/ValidatingAdmissionPolicyBinding": ["spec"],
    ]

    /// The object without unknown top-level and metadata fields, and the paths of those it dropped.
    static func pruned(_ d: ResourceDefinition, _ object: JSONValue) -> (JSONValue, unknown: [String]) {
        guard case .object(let members) = object, let known = byKind["\(d.kind.group)/\(d.kind.kind)"] else { return (object, []) }
        var unknown: [String] = []
        var kept: [String: JSONValue] = [:]
        for (name, value) in members {
            if ["apiVersion", "kind", "metadata"].contains(name) || known.contains(name) { kept[name] = value } else { unknown.append(name) }
        }
        if let metadata = members["metadata"]?.objectValue {
            kept["metadata"] = .object(metadata.filter { key, _ in
                if StructuralSchema.metadataFields.contains(key) { return true }
                unknown.append("metadata.\(key)")
                return false
            })
        }
        return (.object(kept), unknown.sorted())
    }

    /// Unknown fields of a write body, by the kind's schema (custom) or the table above (built-in).
    static func unknown(_ d: ResourceDefinition, in body: JSONValue) -> [String] {
        if let crd = d.crd { return StructuralSchema(version: crd).pruned(body).unknown.sorted() }
        return pruned(d, body).unknown
    }
}

/// `?fieldValidation=`: what an unknown field in a write does. Either way the field is dropped from the object.
enum FieldValidation {
    case strict, warn, ignore

    init(_ text: String?) throws(APIError) {
        switch text {
        case nil, "", "Warn": self = .warn
        case "Strict": self = .strict
        case "Ignore": self = .ignore
        case let other?: throw .badRequest("fieldValidation: invalid value \"\(other)\"; valid values are Ignore, Warn and Strict")
        }
    }

    /// The `Warning` texts for `body`'s unknown fields (Warn), or a 400 naming them (Strict).
    func check(_ d: ResourceDefinition, _ body: JSONValue) throws(APIError) -> [String] {
        guard self != .ignore else { return [] }
        let unknown = KnownFields.unknown(d, in: body)
        guard !unknown.isEmpty else { return [] }
        let listed = unknown.map { "unknown field \"\($0)\"" }
        if self == .strict {
            throw .badRequest("\(d.kind.kind) in version \"\(d.kind.version)\" cannot be handled as a \(d.kind.kind): strict decoding error: \(listed.joined(separator: ", "))")
        }
        return listed
    }
}
