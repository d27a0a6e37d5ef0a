import Foundation
import Yams

/// Checks a manifest node against a CRD schema as the API server would, reporting every violation at its node.
struct SchemaValidator {
    let frame: TextFrame
    var findings: Findings

    mutating func check(_ node: Node, _ schema: Schema, path: String) {
        if node.isNull { return }
        guard typeMatches(node, schema, path: path) else { return }
        switch node {
        case .mapping(let mapping):
            checkMapping(node, mapping, schema, path: path)
        case .sequence(let items):
            if let min = schema.minItems, items.count < min {
                findings.add(node, frame, path, "needs at least \(min) item\(min == 1 ? "" : "s")\(hint(schema))")
            }
            if let max = schema.maxItems, items.count > max {
                findings.add(node, frame, path, "has \(items.count) items; at most \(max) are allowed")
            }
            if let itemSchema = schema.items.first {
                for (index, item) in items.enumerated() { check(item, itemSchema, path: "\(path)[\(index)]") }
            }
        case .scalar(let scalar):
            checkScalar(node, scalar.string, schema, path: path)
        }
    }

    private mutating func checkMapping(_ node: Node, _ mapping: Node.Mapping, _ schema: Schema, path: String) {
        let keys = mapping.compactMap { $0.key.string }
        for name in schema.required where mapping.first(where: { $0.key.string == name }).map({ $0.value.isNull }) ?? true {
            findings.add(node, frame, join(path, name), "is required\(hint(schema.properties[name]))")
        }
        if let max = schema.maxProperties, keys.count > max {
            findings.add(node, frame, path, "has \(keys.count) entries; at most \(max) are allowed")
        }
        for (key, value) in mapping {
            guard let name = key.string else { continue }
            let field = join(path, name)
            if let property = schema.properties[name] {
                check(value, property, path: field)
            } else if let extra = schema.additionalProperties.first {
                check(value, extra, path: field)
            } else if schema.closed {
                let known = schema.properties.keys.sorted()
                let suggestion = known.first { $0.lowercased() == name.lowercased() } ?? known.first { Self.distance($0, name) <= 2 }
                findings.add(key, frame, field, "unknown field: the API server drops it and kubectl rejects it"
                             + (suggestion.map { "; did you mean \($0)?" } ?? "; known fields: \(known.joined(separator: ", "))"))
            }
        }
    }

    private mutating func checkScalar(_ node: Node, _ value: String, _ schema: Schema, path: String) {
        if let allowed = schema.enumValues, !allowed.contains(value) {
            findings.add(node, frame, path, "'\(value)' is not one of: \(allowed.joined(separator: ", "))")
        }
        let length = value.unicodeScalars.count
        if let min = schema.minLength, length < min {
            findings.add(node, frame, path, min == 1 ? "must not be empty\(hint(schema))" : "must be at least \(min) characters")
        }
        if let max = schema.maxLength, length > max {
            findings.add(node, frame, path, "is \(length) characters long; at most \(max) are allowed")
        }
        if let pattern = schema.pattern, length > 0, let regex = try? NSRegularExpression(pattern: pattern),
           regex.firstMatch(in: value, range: NSRange(value.startIndex..., in: value)) == nil {
            findings.add(node, frame, path, "'\(value)' does not match the pattern \(pattern)\(hint(schema))")
        }
        if let min = schema.minimum, let number = node.float, number < min {
            findings.add(node, frame, path, "must be at least \(Self.format(min))")
        }
        if let max = schema.maximum, let number = node.float, number > max {
            findings.add(node, frame, path, "must be at most \(Self.format(max))")
        }
    }

    /// Reports a wrong type; true when the node has the schema's type (or the schema has none).
    private mutating func typeMatches(_ node: Node, _ schema: Schema, path: String) -> Bool {
        guard let type = schema.type else { return true }
        let actual = Self.kind(of: node)
        let ok: Bool
        switch type {
        case "object": ok = actual == "map"
        case "array": ok = actual == "list"
        case "string": ok = actual == "string"
        case "integer": ok = actual == "integer"
        case "number": ok = actual == "integer" || actual == "number"
        case "boolean": ok = actual == "boolean"
        default: ok = true
        }
        if ok { return true }
        let text = node.text ?? ""
        let fix: String
        switch (type, actual) {
        case ("string", "boolean"):
            fix = ": quote it, e.g. \"\(text)\""
        case ("string", "integer"), ("string", "number"):
            // The number itself is not repeated: it could be a credential someone put in a parameter.
            fix = ": quote it"
        case ("integer", "string") where Int(text) != nil, ("number", "string") where Double(text) != nil, ("boolean", "string") where Bool(text) != nil:
            fix = ": remove the quotes"
        case ("object", _): fix = " (key: value lines)"
        case ("array", _): fix = " (\"- item\" lines)"
        default: fix = ""
        }
        let expected = ["object": "a map", "array": "a list", "integer": "an integer", "number": "a number", "boolean": "a boolean (true or false)"][type] ?? "a \(type)"
        findings.add(node, frame, path, "must be \(expected), not \(Self.article(actual))\(fix)")
        return false
    }

    static func kind(of node: Node) -> String {
        switch node {
        case .mapping: return "map"
        case .sequence: return "list"
        case .scalar:
            switch node.tagName {
            case .int: return "integer"
            case .float: return "number"
            case .bool: return "boolean"
            case .null: return "null"
            default: return "string"
            }
        }
    }

    private static func article(_ kind: String) -> String { kind == "integer" ? "an integer" : "a \(kind)" }

    private static func format(_ value: Double) -> String { value == value.rounded() ? String(Int(value)) : String(value) }

    private func hint(_ schema: Schema?) -> String {
        guard let text = schema?.description, !text.isEmpty else { return "" }
        return " (\(text.hasSuffix(".") ? String(text.dropLast()) : text))"
    }

    private func join(_ path: String, _ name: String) -> String { path.isEmpty ? name : "\(path).\(name)" }

    /// Edit distance, for "did you mean".
    static func distance(_ a: String, _ b: String) -> Int {
        let a = Array(a.lowercased()), b = Array(b.lowercased())
        var previous = Array(0...b.count)
        for i in 1...max(a.count, 1) where !a.isEmpty {
            var current = [i] + Array(repeating: 0, count: b.count)
            for j in stride(from: 1, through: b.count, by: 1) {
                current[j] = min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + (a[i - 1] == b[j - 1] ? 0 : 1))
            }
            previous = current
        }
        return a.isEmpty ? b.count : previous[b.count]
    }
}
