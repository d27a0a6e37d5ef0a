import Foundation
import Yams

/// Reads the key/value data of a Kubernetes Secret manifest (`data` base64, `stringData` plain),
/// e.g. the nodePublishSecretRef Secret for `akvs mount`.
public enum SecretManifest {
    public static func parse(yaml text: String, source: String) throws(ManifestError) -> [String: String] {
        let object: Any?
        do { object = try Yams.load(yaml: text) } catch {
            throw .invalid(source: source, field: "(document)", reason: "is not valid YAML: \(error)")
        }
        guard let manifest = object as? [String: Any] else { throw .invalid(source: source, field: "(document)", reason: "must be a Secret manifest") }
        if let kind = manifest["kind"] as? String, kind != "Secret" {
            throw .invalid(source: source, field: "kind", reason: "is '\(kind)'; expected Secret")
        }
        var result: [String: String] = [:]
        for (key, value) in manifest["data"] as? [String: Any] ?? [:] {
            guard let text = value as? String, let decoded = Data(base64Encoded: text), let string = String(data: decoded, encoding: .utf8) else {
                throw .invalid(source: source, field: "data.\(key)", reason: "must be base64 of UTF-8 text (or move it to stringData)")
            }
            result[key] = string
        }
        for (key, value) in manifest["stringData"] as? [String: Any] ?? [:] {
            guard let text = value as? String else { throw .invalid(source: source, field: "stringData.\(key)", reason: "must be a string") }
            result[key] = text
        }
        return result
    }
}
