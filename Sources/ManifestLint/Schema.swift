import Yams

/// The part of a CRD's OpenAPI v3 schema the API server checks on every write: types, required fields,
/// enums, patterns, lengths, item and property counts. CEL rules (`x-kubernetes-validations`) are left to
/// the sync controller's own checks, which `akvs validate` also runs.
struct Schema: Sendable {
    var type: String?
    var description: String?
    var properties: [String: Schema] = [:]
    var required: [String] = []
    /// Zero or one schema (an array keeps the struct recursive without boxing).
    var items: [Schema] = []
    var additionalProperties: [Schema] = []
    var preserveUnknownFields = false
    var enumValues: [String]?
    var pattern: String?
    var minLength: Int?
    var maxLength: Int?
    var minItems: Int?
    var maxItems: Int?
    var maxProperties: Int?
    var minimum: Double?
    var maximum: Double?

    /// Reads a schema node of a CRD (`openAPIV3Schema` or any nested property).
    init(_ node: Node) {
        type = node["type"]?.string
        description = node["description"]?.string
        if case .mapping(let props)? = node["properties"] {
            for (key, value) in props { if let name = key.string { properties[name] = Schema(value) } }
        }
        required = node["required"]?.sequence?.compactMap(\.string) ?? []
        if let items = node["items"] { self.items = [Schema(items)] }
        if let extra = node["additionalProperties"], extra.mapping != nil { additionalProperties = [Schema(extra)] }
        preserveUnknownFields = node["x-kubernetes-preserve-unknown-fields"]?.bool ?? false
        enumValues = node["enum"]?.sequence?.compactMap(\.string)
        pattern = node["pattern"]?.string
        minLength = node["minLength"]?.int
        maxLength = node["maxLength"]?.int
        minItems = node["minItems"]?.int
        maxItems = node["maxItems"]?.int
        maxProperties = node["maxProperties"]?.int
        minimum = node["minimum"]?.float
        maximum = node["maximum"]?.float
    }

    /// Whether fields not listed in `properties` are unknown (pruned by the API server, rejected by kubectl's strict validation).
    var closed: Bool { type == "object" && !properties.isEmpty && additionalProperties.isEmpty && !preserveUnknownFields }
}
