import StructuredJSON

/// A failure answered as a `metav1.Status`, with kube-apiserver's codes, reasons and message shapes.
struct APIError: Error, Sendable {
    var code: Int
    var reason: String
    var message: String
    var details: JSONValue?
    var headers: [(String, String)] = []

    func status() -> JSONValue {
        var status: JSONValue = ["kind": "Status", "apiVersion": "v1", "metadata": [:], "status": "Failure",
                                 "message": .string(message), "reason": .string(reason), "code": .number(Double(code))]
        if let details { status["details"] = details }
        return status
    }

    static func details(_ d: ResourceDefinition, _ name: String?) -> JSONValue {
        var details: JSONValue = ["kind": .string(d.kind.plural)]
        if let name { details["name"] = .string(name) }
        if !d.kind.group.isEmpty { details["group"] = .string(d.kind.group) }
        return details
    }

    static func qualified(_ d: ResourceDefinition) -> String { d.kind.group.isEmpty ? d.kind.plural : "\(d.kind.plural).\(d.kind.group)" }

    static func notFound(_ d: ResourceDefinition, _ name: String) -> APIError {
        APIError(code: 404, reason: "NotFound", message: "\(qualified(d)) \"\(name)\" not found", details: details(d, name))
    }
    static func namespaceNotFound(_ namespace: String) -> APIError {
        APIError(code: 404, reason: "NotFound", message: "namespaces \"\(namespace)\" not found", details: ["name": .string(namespace), "kind": "namespaces"])
    }
    static func alreadyExists(_ d: ResourceDefinition, _ name: String) -> APIError {
        APIError(code: 409, reason: "AlreadyExists", message: "\(qualified(d)) \"\(name)\" already exists", details: details(d, name))
    }
    static func conflict(_ d: ResourceDefinition, _ name: String, _ why: String = "the object has been modified; please apply your changes to the latest version and try again") -> APIError {
        APIError(code: 409, reason: "Conflict", message: "Operation cannot be fulfilled on \(qualified(d)) \"\(name)\": \(why)", details: details(d, name))
    }
    /// `kind` is qualified like the API server does it, e.g. `TokenRequest.authentication.k8s.io`.
    static func invalid(kind: String, _ name: String, field: String, value: String, _ why: String) -> APIError {
        invalid(kind: kind, name, causes: [FieldCause(reason: "FieldValueInvalid", field: field, message: "Invalid value: \(value): \(why)")])
    }
    static func required(kind: String, _ name: String, field: String, _ why: String) -> APIError {
        invalid(kind: kind, name, causes: [FieldCause(reason: "FieldValueRequired", field: field, message: "Required value: \(why)")])
    }
    /// 422 Invalid with every cause, worded as kube-apiserver words it: one cause inline, several in brackets;
    /// `details` names the kind (unqualified) and group, and the object's name when it has one.
    static func invalid(kind qualified: String, _ name: String, causes: [FieldCause]) -> APIError {
        let parts = qualified.split(separator: ".", maxSplits: 1).map(String.init)
        let listed = causes.map { "\($0.field): \($0.message)" }
        var details: JSONValue = ["kind": .string(parts[0]), "causes": .array(causes.map(\.json))]
        if !name.isEmpty { details["name"] = .string(name) }
        if parts.count > 1 { details["group"] = .string(parts[1]) }
        return APIError(code: 422, reason: "Invalid",
                        message: "\(qualified) \"\(name)\" is invalid: " + (listed.count == 1 ? listed[0] : "[\(listed.joined(separator: ", "))]"),
                        details: details)
    }
    /// 403 Forbidden for a write into a namespace that is being deleted.
    static func namespaceTerminating(_ d: ResourceDefinition, _ name: String, namespace: String) -> APIError {
        var details = details(d, name)
        details["causes"] = [["reason": "NamespaceTerminating", "message": .string("namespace \(namespace) is being terminated"), "field": "metadata.namespace"]]
        return APIError(code: 403, reason: "Forbidden",
                        message: "\(qualified(d)) \"\(name)\" is forbidden: unable to create new content in namespace \(namespace) because it is being terminated",
                        details: details)
    }
    static func forbidden(_ d: ResourceDefinition, _ name: String, _ why: String) -> APIError {
        APIError(code: 403, reason: "Forbidden", message: "\(qualified(d)) \"\(name)\" is forbidden: \(why)", details: details(d, name))
    }
    static func badRequest(_ message: String) -> APIError { APIError(code: 400, reason: "BadRequest", message: message) }
    static func methodNotAllowed(_ message: String) -> APIError { APIError(code: 405, reason: "MethodNotAllowed", message: message) }
    /// Custom resources accept no strategic merge patch, so it is missing from their list.
    static func unsupportedMediaType(custom: Bool) -> APIError {
        APIError(code: 415, reason: "UnsupportedMediaType", message: "the body of the request was in an unknown format - accepted media types include: "
                 + "application/json-patch+json, application/merge-patch+json, application/apply-patch+yaml" + (custom ? "" : ", application/strategic-merge-patch+json"))
    }
    static func expired(_ message: String) -> APIError { APIError(code: 410, reason: "Expired", message: message) }
    static let unauthorized = APIError(code: 401, reason: "Unauthorized", message: "Unauthorized")
}
