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
        APIError(code: 422, reason: "Invalid", message: "\(kind) \"\(name)\" is invalid: \(field): Invalid value: \(value): \(why)",
                 details: ["name": .string(name), "kind": .string(kind.split(separator: ".").first.map(String.init) ?? kind),
                           "causes": [["reason": "FieldValueInvalid", "message": .string("Invalid value: \(value): \(why)"), "field": .string(field)]]])
    }
    static func required(kind: String, _ name: String, field: String, _ why: String) -> APIError {
        APIError(code: 422, reason: "Invalid", message: "\(kind) \"\(name)\" is invalid: \(field): Required value: \(why)",
                 details: ["name": .string(name), "kind": .string(kind.split(separator: ".").first.map(String.init) ?? kind),
                           "causes": [["reason": "FieldValueRequired", "message": .string("Required value: \(why)"), "field": .string(field)]]])
    }
    static func badRequest(_ message: String) -> APIError { APIError(code: 400, reason: "BadRequest", message: message) }
    static func methodNotAllowed(_ message: String) -> APIError { APIError(code: 405, reason: "MethodNotAllowed", message: message) }
    static func unsupportedMediaType(_ type: String) -> APIError {
        APIError(code: 415, reason: "UnsupportedMediaType", message: "the body of the request was in an unknown format - accepted media types include: application/json-patch+json, application/merge-patch+json, application/apply-patch+yaml (got \(type))")
    }
    static func expired(_ message: String) -> APIError { APIError(code: 410, reason: "Expired", message: message) }
    static let unauthorized = APIError(code: 401, reason: "Unauthorized", message: "Unauthorized")
}
