import Foundation
import Yams

/// One Kubernetes object of the given files, with the frame its marks map through.
struct Manifest {
    let file: String
    let frame: TextFrame
    let node: Node

    var apiVersion: String { node["apiVersion"]?.text ?? "" }
    var kind: String { node["kind"]?.text ?? "" }
    var group: String { apiVersion.contains("/") ? String(apiVersion.split(separator: "/")[0]) : "" }
    var version: String { String(apiVersion.split(separator: "/").last ?? "") }
    var name: String? { node["metadata"]?["name"]?.text }
    var namespace: String? { node["metadata"]?["namespace"]?.text.flatMap { $0.isEmpty ? nil : $0 } }
    /// `namespace/name`, or the name alone when the manifest leaves the namespace to kubectl.
    var label: String { [namespace, name].compactMap { $0 }.joined(separator: "/") }

    /// Decodes the object as a typed resource (after the schema check, so a failure is rare).
    func decode<T: Decodable>(_ type: T.Type) -> T? {
        guard let yaml = try? Yams.serialize(node: node) else { return nil }
        return try? YAMLDecoder().decode(T.self, from: yaml)
    }

    /// Whether a reference from `namespace` can mean this object: same namespace, or one side leaves it open.
    func visible(from other: String?) -> Bool { namespace == nil || other == nil || namespace == other }
}
