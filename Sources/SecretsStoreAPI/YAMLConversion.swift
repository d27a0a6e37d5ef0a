import StructuredJSON
import Yams

/// YAML ⇄ JSON, with YAML 1.2 core scalars (as the API server reads them).
public enum YAMLConversion {
    /// A YAML node as JSON (keys as strings, plain scalars typed, quoted scalars strings).
    public static func json(_ node: Node) -> JSONValue {
        switch node {
        case .mapping(let mapping):
            var members: [String: JSONValue] = [:]
            for (k, v) in mapping { members[k.string ?? String(describing: k)] = json(v) }
            return .object(members)
        case .sequence(let sequence): return .array(sequence.map(json))
        case .scalar(let scalar):
            if scalar.style != .plain { return .string(scalar.string) }
            switch scalar.string {
            case "null", "~", "": return .null
            case "true", "True", "TRUE": return .bool(true)
            case "false", "False", "FALSE": return .bool(false)
            default:
                if let n = Double(scalar.string), scalar.string.first.map({ $0.isNumber || $0 == "-" }) == true { return .number(n) }
                return .string(scalar.string)
            }
        }
    }

    /// YAML text of a value (keys sorted, strings quoted where YAML would misread them).
    public static func yaml(_ value: JSONValue) -> String {
        (try? Yams.serialize(node: node(value), sortKeys: true)) ?? ""
    }

    static func node(_ value: JSONValue) -> Node {
        switch value {
        case .null: return Node("null", Tag(.null))
        case .bool(let b): return Node(b ? "true" : "false", Tag(.bool))
        case .number(let n): return Node(n == n.rounded() && abs(n) < 1e15 ? String(Int64(n)) : String(n), Tag(.int))
        case .string(let s):
            let style: Node.Scalar.Style = s.contains("\n") ? .literal : (YAMLConversion.needsQuotes(s) ? .doubleQuoted : .plain)
            return Node(s, Tag(.str), style)
        case .array(let items): return Node(items.map(node))
        case .object(let members): return Node(members.sorted { $0.key < $1.key }.map { (Node($0.key), node($0.value)) })
        }
    }

    static func needsQuotes(_ s: String) -> Bool {
        if s.isEmpty || Double(s) != nil { return true }
        if ["true", "false", "null", "yes", "no", "on", "off", "~"].contains(s.lowercased()) { return true }
        return s.first.map { " -?:,[]{}#&*!|>'\"%@`".contains($0) } ?? false || s.contains(": ") || s.contains(" #") || s.hasSuffix(" ")
    }
}
