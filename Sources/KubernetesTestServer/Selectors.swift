import StructuredJSON

/// A label selector in the API's string form: `a=b`, `a==b`, `a!=b`, `a in (x,y)`, `a notin (x)`, `a`, `!a`.
struct LabelSelector: Sendable {
    enum Requirement: Sendable {
        case equals(String, String), notEquals(String, String), isIn(String, Set<String>), notIn(String, Set<String>), exists(String), notExists(String)
    }
    var requirements: [Requirement]

    init(parsing text: String) throws(APIError) {
        requirements = []
        for clause in Self.splitClauses(text) {
            let c = clause.trimmingCharacters(in: .whitespaces)
            if c.isEmpty { continue }
            if let r = c.range(of: " notin ") ?? c.range(of: " in ") {
                let key = c[..<r.lowerBound].trimmingCharacters(in: .whitespaces)
                let rest = c[r.upperBound...].trimmingCharacters(in: .whitespaces)
                guard rest.hasPrefix("("), rest.hasSuffix(")") else { throw APIError.badRequest("unable to parse requirement: \(c): values must be in parentheses") }
                let values = Set(rest.dropFirst().dropLast().split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) })
                requirements.append(c[r].contains("notin") ? .notIn(key, values) : .isIn(key, values))
            } else if let r = c.range(of: "!=") {
                requirements.append(.notEquals(c[..<r.lowerBound].trimmingCharacters(in: .whitespaces), c[r.upperBound...].trimmingCharacters(in: .whitespaces)))
            } else if let r = c.range(of: "==") ?? c.range(of: "=") {
                requirements.append(.equals(c[..<r.lowerBound].trimmingCharacters(in: .whitespaces), c[r.upperBound...].trimmingCharacters(in: .whitespaces)))
            } else if c.hasPrefix("!") {
                requirements.append(.notExists(String(c.dropFirst()).trimmingCharacters(in: .whitespaces)))
            } else {
                guard !c.contains(" ") else { throw APIError.badRequest("unable to parse requirement: \(c)") }
                requirements.append(.exists(c))
            }
        }
    }

    /// Splits on commas outside parentheses.
    static func splitClauses(_ text: String) -> [String] {
        var parts: [String] = []; var current = ""; var depth = 0
        for ch in text {
            if ch == "(" { depth += 1 } else if ch == ")" { depth -= 1 }
            if ch == ",", depth == 0 { parts.append(current); current = "" } else { current.append(ch) }
        }
        parts.append(current)
        return parts
    }

    func matches(_ labels: [String: String]) -> Bool {
        requirements.allSatisfy { r in
            switch r {
            case .equals(let k, let v): return labels[k] == v
            case .notEquals(let k, let v): return labels[k] != v
            case .isIn(let k, let vs): return labels[k].map(vs.contains) ?? false
            case .notIn(let k, let vs): return labels[k].map { !vs.contains($0) } ?? true
            case .exists(let k): return labels[k] != nil
            case .notExists(let k): return labels[k] == nil
            }
        }
    }
}

/// A field selector: `metadata.name`, `metadata.namespace` and a few per-kind fields (e.g. Secret `type`), `=`, `==`, `!=`.
struct FieldSelector: Sendable {
    var requirements: [(path: [String], value: String, equal: Bool)]

    init(parsing text: String, kind: String) throws(APIError) {
        requirements = []
        for clause in text.split(separator: ",") {
            let c = String(clause)
            let equal: Bool; let parts: [String]
            if let r = c.range(of: "!=") { equal = false; parts = [String(c[..<r.lowerBound]), String(c[r.upperBound...])] }
            else if let r = c.range(of: "==") ?? c.range(of: "=") { equal = true; parts = [String(c[..<r.lowerBound]), String(c[r.upperBound...])] }
            else { throw APIError.badRequest("invalid selector: '\(c)'; can't understand '\(c)'") }
            let field = parts[0].trimmingCharacters(in: .whitespaces)
            let allowed = Set(["metadata.name", "metadata.namespace"]).union(Self.extraFields[kind] ?? [])
            guard allowed.contains(field) else {
                throw APIError.badRequest("field label not supported: \(field)")
            }
            requirements.append((field.split(separator: ".").map(String.init), parts[1].trimmingCharacters(in: .whitespaces), equal))
        }
    }

    static let extraFields: [String: Set<String>] = ["Secret": ["type"], "Pod": ["spec.nodeName", "status.phase", "spec.serviceAccountName"],
                                                     "Event": ["involvedObject.name", "involvedObject.uid", "reason", "type", "regarding.name"]]

    func matches(_ object: JSONValue) -> Bool {
        requirements.allSatisfy { r in
            let actual = object[path: r.path]?.stringValue ?? ""
            return (actual == r.value) == r.equal
        }
    }
}
