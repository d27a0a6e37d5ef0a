import AtomicWriter
import Foundation
import SecretsStoreAPI

/// `akvs mount`: one SecretProviderClass through the provider into a local folder, written atomically.
public struct LocalMount: Sendable {
    /// Who the mount pretends to be, as kubelet would describe the pod.
    public struct Pod: Sendable {
        public var name: String
        public var namespace: String
        public var uid: String
        public var serviceAccountName: String
        public init(name: String = "akvs-mount", namespace: String = "default", uid: String = UUID().uuidString.lowercased(), serviceAccountName: String = "default") {
            self.name = name; self.namespace = namespace; self.uid = uid; self.serviceAccountName = serviceAccountName
        }
    }

    /// One row of the report: never a value.
    public struct Row: Sendable, Equatable {
        public var id: String
        public var version: String
        public var file: String
        public var size: Int
        public var mode: Int32
    }

    public struct Report: Sendable {
        public var rows: [Row]
        public var outcome: AtomicWriter.Outcome
    }

    public let provider: AzureProvider

    public init(provider: AzureProvider) { self.provider = provider }

    /// The attribute map the CSI driver would send for this SPC and pod.
    public static func attributes(for spc: SecretProviderClass, pod: Pod, serviceAccountTokens: [String: String]) -> [String: String] {
        var attributes = spc.spec.parameters ?? [:]
        attributes["csi.storage.k8s.io/pod.name"] = pod.name
        attributes["csi.storage.k8s.io/pod.namespace"] = pod.namespace
        attributes["csi.storage.k8s.io/pod.uid"] = pod.uid
        attributes["csi.storage.k8s.io/serviceAccount.name"] = pod.serviceAccountName
        attributes["secretProviderClass"] = spc.metadata.name
        if !serviceAccountTokens.isEmpty {
            let expiry = ISO8601DateFormatter().string(from: Date().addingTimeInterval(3600))
            let tokens = serviceAccountTokens.mapValues { ["token": $0, "expirationTimestamp": expiry] }
            if let data = try? JSONSerialization.data(withJSONObject: tokens, options: [.sortedKeys]) {
                attributes["csi.storage.k8s.io/serviceAccount.tokens"] = String(decoding: data, as: UTF8.self)
            }
        }
        return attributes
    }

    /// Fetches every object, then swaps the folder's content in one step (or leaves it untouched on failure).
    public func run(_ spc: SecretProviderClass, target: URL, pod: Pod = Pod(), nodePublishSecret: [String: String] = [:],
                    serviceAccountTokens: [String: String] = [:], defaultMode: Int32 = 0o644) async throws -> Report {
        guard (spc.spec.provider ?? "").lowercased() == "azure" else {
            throw ProviderError.parameter(name: "spec.provider", reason: "is '\(spc.spec.provider ?? "")'; akvs mount serves the azure provider")
        }
        let result = try await provider.mount(attributes: Self.attributes(for: spc, pod: pod, serviceAccountTokens: serviceAccountTokens),
                                              secrets: nodePublishSecret, defaultMode: defaultMode)
        try FileManager.default.createDirectory(at: target, withIntermediateDirectories: true)
        let outcome = try AtomicWriter(target: target).write(result.files.map { AtomicWriter.File(path: $0.path, mode: $0.mode, contents: $0.contents) })
        let rows = result.entries.map { Row(id: $0.version.id, version: $0.version.version, file: $0.file.path, size: $0.file.contents.count, mode: $0.file.mode) }
        return Report(rows: rows, outcome: outcome)
    }
}

extension LocalMount.Report {
    /// The table `akvs mount` and `akvs demo` print: object, version, file, mode, size; never a value.
    public func table(target: String, indent: String = "") -> String {
        var cells = [["OBJECT", "VERSION", "FILE", "MODE", "SIZE"]]
        for row in rows {
            cells.append([row.id, String(row.version.prefix(12)), row.file, "0" + String(row.mode, radix: 8), "\(row.size) B"])
        }
        let widths = (0..<5).map { c in cells.map { $0[c].count }.max() ?? 0 }
        var lines = cells.map { indent + $0.enumerated().map { $1.padding(toLength: widths[$0], withPad: " ", startingAt: 0) }.joined(separator: "  ") }
        switch outcome {
        case .unchanged: lines.append(indent + "\(target): unchanged, nothing rewritten")
        case .written(let changed): lines.append(indent + "\(target): swapped in atomically; changed: \(changed.joined(separator: ", "))")
        }
        return lines.joined(separator: "\n")
    }
}
