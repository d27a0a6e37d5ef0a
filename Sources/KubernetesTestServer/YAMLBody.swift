import Foundation
import StructuredJSON
import Yams

/// Apply bodies are YAML (JSON is YAML too).
enum YAMLBody {
    static func parse(_ data: Data) throws(APIError) -> JSONValue {
        let text = String(decoding: data, as: UTF8.self)
        let node: Node?
        do { node = try Yams.compose(yaml: text) } catch { throw .badRequest("error decoding YAML: \(error)") }
        guard let node else { throw .badRequest("the apply configuration is empty") }
        return convert(node)
    }

    static func convert(_ node: Node) -> JSONValue {
        switch node {
        case .mapping(let mapping):
            var members: [String: JSONValue] = [:]
            for (k, v) in mapping { members[k.string ?? String(describing: k)] = convert(v) }
            return .object(members)
        case .sequence(let sequence):
            return .array(sequence.map(convert))
        case .scalar(let scalar):
            // Quoted scalars are strings; plain ones are resolved as YAML 1.2 core / JSON would.
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
}
