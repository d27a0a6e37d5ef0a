import SecretsStoreAPI
import Yams

/// The CRDs of charts/akvs/crds (embedded at build time), by group, kind and version.
struct CRDCatalog: Sendable {
    struct Version: Sendable {
        var name: String
        var served: Bool
        var deprecationWarning: String?
        var schema: Schema?
    }

    struct Definition: Sendable {
        var group: String
        var kind: String
        var versions: [Version]
        /// The served, non-deprecated version to recommend.
        var preferred: String? { versions.first { $0.served && $0.deprecationWarning == nil }?.name ?? versions.first?.name }
    }

    private var definitions: [String: Definition] = [:]

    /// Parses the embedded CRD files; a broken embedded file is a build defect, caught by the tests.
    init(files: [String: String] = CRDManifests.files) {
        for text in files.values {
            guard let documents = try? Yams.compose_all(yaml: text) else { continue }
            for document in documents {
                guard document["kind"]?.string == "CustomResourceDefinition", let spec = document["spec"],
                      let group = spec["group"]?.string, let kind = spec["names"]?["kind"]?.string else { continue }
                let versions = (spec["versions"]?.sequence ?? []).compactMap { v -> Version? in
                    guard let name = v["name"]?.string else { return nil }
                    let deprecated = v["deprecated"]?.bool ?? false
                    return Version(name: name, served: v["served"]?.bool ?? false,
                                   deprecationWarning: deprecated ? (v["deprecationWarning"]?.string ?? "\(group)/\(name) \(kind) is deprecated") : nil,
                                   schema: v["schema"]?["openAPIV3Schema"].map(Schema.init))
                }
                definitions["\(group)/\(kind)"] = Definition(group: group, kind: kind, versions: versions)
            }
        }
    }

    /// The CRD for a kind of an API group, if the chart defines one.
    func definition(group: String, kind: String) -> Definition? { definitions["\(group)/\(kind)"] }

    /// Whether the chart defines any kind in `group`.
    func defines(group: String) -> Bool { definitions.values.contains { $0.group == group } }
}

extension ManifestLinter {
    /// The embedded copy of a chart CRD file (without its final newline restored), for the drift test.
    public static func embeddedCRD(_ fileName: String) -> String? { CRDManifests.files[fileName].map { $0 + "\n" } }
}
