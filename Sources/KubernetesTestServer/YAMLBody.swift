import Foundation
import SecretsStoreAPI
import StructuredJSON
import Yams

/// Apply bodies are YAML (JSON is YAML too).
enum YAMLBody {
    static func parse(_ data: Data) throws(APIError) -> JSONValue {
        let text = String(decoding: data, as: UTF8.self)
        let node: Node?
        do { node = try Yams.compose(yaml: text) } catch { throw .badRequest("error decoding YAML: \(error)") }
        guard let node else { throw .badRequest("the apply configuration is empty") }
        return YAMLConversion.json(node)
    }
}
