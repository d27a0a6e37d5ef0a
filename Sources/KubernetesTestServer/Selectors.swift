import StructuredJSON

/// A label selector in the API's string form, parsed by kube-apiserver's grammar: `a=b`, `a==b`, `a!=b`,
/// `a in (x,y)`, `a notin (x)`, `a`, `!a`, `a>1`, `a<1`; errors worded as its parser words them.
struct LabelSelector: Sendable {
    enum Requirement: Sendable {
        case equals(String, String), notEquals(String, String), isIn(String, Set<String>), notIn(String, Set<String>), exists(String), notExists(String)
        case greaterThan(String, Int), lessThan(String, Int)
    }
    var requirements: [Requirement]

    init(parsing text: String) throws(APIError) {
        var parser = LabelSelectorParser(tokens: LabelSelectorParser.tokens(text))
        requirements = try parser.parse()
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
            case .greaterThan(let k, let n): return labels[k].flatMap { Int($0) }.map { $0 > n } ?? false
            case .lessThan(let k, let n): return labels[k].flatMap { Int($0) }.map { $0 < n } ?? false
            }
        }
    }
}

/// The lexer and recursive-descent parser of apimachinery's label selector syntax.
struct LabelSelectorParser {
    enum Token: Equatable {
        case identifier(String), inKeyword, notInKeyword, bang, equals, doubleEquals, notEquals, greater, less, comma, open, close, end

        var literal: String {
            switch self {
            case .identifier(let s): return s
            case .inKeyword: return "in"
            case .notInKeyword: return "notin"
            case .bang: return "!"
            case .equals: return "="
            case .doubleEquals: return "=="
            case .notEquals: return "!="
            case .greater: return ">"
            case .less: return "<"
            case .comma: return ","
            case .open: return "("
            case .close: return ")"
            case .end: return ""
            }
        }
    }

    var tokens: [Token]
    var position = 0

    static func tokens(_ text: String) -> [Token] {
        var result: [Token] = []
        let chars = Array(text)
        var i = 0
        let special: Set<Character> = ["!", "=", ",", "(", ")", ">", "<"]
        while i < chars.count {
            let c = chars[i]
            if c.isWhitespace { i += 1; continue }
            let next = i + 1 < chars.count ? chars[i + 1] : nil
            switch c {
            case "!" where next == "=": result.append(.notEquals); i += 2
            case "!": result.append(.bang); i += 1
            case "=" where next == "=": result.append(.doubleEquals); i += 2
            case "=": result.append(.equals); i += 1
            case ",": result.append(.comma); i += 1
            case "(": result.append(.open); i += 1
            case ")": result.append(.close); i += 1
            case ">": result.append(.greater); i += 1
            case "<": result.append(.less); i += 1
            default:
                var word = ""
                while i < chars.count, !chars[i].isWhitespace, !special.contains(chars[i]) { word.append(chars[i]); i += 1 }
                result.append(word == "in" ? .inKeyword : word == "notin" ? .notInKeyword : .identifier(word))
            }
        }
        return result + [.end]
    }

    var lookahead: Token { tokens[position] }
    mutating func consume() -> Token { defer { position = min(position + 1, tokens.count - 1) }; return tokens[position] }

    static func failure(_ found: Token, _ expected: String) -> APIError {
        .badRequest("unable to parse requirement: found '\(found.literal)', expected: \(expected)")
    }

    mutating func parse() throws(APIError) -> [LabelSelector.Requirement] {
        var requirements: [LabelSelector.Requirement] = []
        while true {
            switch lookahead {
            case .identifier, .bang:
                requirements.append(try requirement())
                switch consume() {
                case .end: return requirements
                case .comma:
                    guard case .identifier = lookahead else {
                        if lookahead == .bang { continue }
                        throw Self.failure(lookahead, "identifier after ','")
                    }
                default: throw Self.failure(tokens[position - 1], "',' or 'end of string'")
                }
            case .end: return requirements
            default: throw Self.failure(lookahead, "!, identifier, or 'end of string'")
            }
        }
    }

    mutating func requirement() throws(APIError) -> LabelSelector.Requirement {
        var negated = false
        if lookahead == .bang { _ = consume(); negated = true }
        guard case .identifier(let key) = consume() else { throw Self.failure(tokens[position - 1], "identifier") }
        try Self.validate(key: key)
        if lookahead == .end || lookahead == .comma { return negated ? .notExists(key) : .exists(key) }
        if negated { throw Self.failure(lookahead, "',' or 'end of string'") }
        let op = consume()
        switch op {
        case .inKeyword, .notInKeyword:
            let values = try valueSet()
            return op == .inKeyword ? .isIn(key, values) : .notIn(key, values)
        case .equals, .doubleEquals, .notEquals:
            let value = try exactValue()
            return op == .notEquals ? .notEquals(key, value) : .equals(key, value)
        case .greater, .less:
            let value = try exactValue()
            guard let number = Int(value) else {
                throw .badRequest("unable to parse requirement: for 'Gt', 'Lt' operators, the value must be an integer")
            }
            return op == .greater ? .greaterThan(key, number) : .lessThan(key, number)
        default:
            throw Self.failure(op, "'=', '!=', '==', 'in', notin'")
        }
    }

    mutating func exactValue() throws(APIError) -> String {
        if lookahead == .end || lookahead == .comma { return "" }
        guard case .identifier(let value) = consume() else { throw Self.failure(tokens[position - 1], "identifier") }
        try Self.validate(value: value)
        return value
    }

    mutating func valueSet() throws(APIError) -> Set<String> {
        guard consume() == .open else { throw Self.failure(tokens[position - 1], "'('") }
        var values = Set<String>()
        while true {
            switch consume() {
            case .identifier(let value):
                try Self.validate(value: value)
                values.insert(value)
                switch consume() {
                case .comma: continue
                case .close: return values
                case let other: throw Self.failure(other, "',' or ')'")
                }
            case .close: return values.isEmpty ? [""] : values
            case .comma: values.insert(""); continue
            case let other: throw Self.failure(other, "',', ')' or identifier")
            }
        }
    }

    /// A qualified name: an optional DNS-subdomain prefix and `/`, then at most 63 characters of [A-Za-z0-9-_.]
    /// that start and end alphanumeric.
    static func validate(key: String) throws(APIError) {
        let parts = key.split(separator: "/", omittingEmptySubsequences: false)
        let name = String(parts.last ?? "")
        let prefixOK = parts.count == 1 || (parts.count == 2 && !parts[0].isEmpty && parts[0].count <= 253
                                            && parts[0].allSatisfy { $0.isLowercase || $0.isNumber || $0 == "-" || $0 == "." })
        guard prefixOK, isLabelName(name), !name.isEmpty else {
            throw .badRequest("unable to parse requirement: key: Invalid value: \"\(key)\": name part must consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character")
        }
    }

    static func validate(value: String) throws(APIError) {
        guard value.isEmpty || isLabelName(value) else {
            throw .badRequest("unable to parse requirement: values[0]: Invalid value: \"\(value)\": a valid label must be an empty string or consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character")
        }
    }

    static func isLabelName(_ text: String) -> Bool {
        guard text.count <= 63, let first = text.first, let last = text.last else { return text.isEmpty }
        let ok = text.allSatisfy { $0.isASCII && ($0.isLetter || $0.isNumber || $0 == "-" || $0 == "_" || $0 == ".") }
        return ok && first.isASCII && (first.isLetter || first.isNumber) && (last.isLetter || last.isNumber)
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
