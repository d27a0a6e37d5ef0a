import Foundation
import SecretsStoreAPI
import StructuredJSON

/// How a stage's changes are shown: a table per namespace, JSON, or (offline) the manifests to apply.
public enum ReportFormat: String, Sendable, CaseIterable {
    case table, json, yaml
}

public struct MigrationReport: Sendable {
    public var stage: String
    public var applied: Bool
    public var changes: [Change]
    public var notes: [String] = []

    public init(stage: String, applied: Bool, changes: [Change], notes: [String] = []) {
        self.stage = stage; self.applied = applied; self.changes = changes; self.notes = notes
    }

    public var blockers: [Change] { changes.filter(\.isBlocker) }

    public func render(_ format: ReportFormat) -> String {
        switch format {
        case .table: return table()
        case .json: return json()
        case .yaml: return yaml()
        }
    }

    func table() -> String {
        var lines = ["akvs migrate \(stage)\(applied ? "" : " (dry run: nothing changed; --apply acts)")"]
        let groups = Dictionary(grouping: changes) { $0.namespace }
        for namespace in groups.keys.sorted() {
            lines.append("")
            lines.append(namespace.isEmpty ? "cluster" : "namespace \(namespace)")
            let rows = groups[namespace]!
            let width = min(rows.map(\.subject.count).max() ?? 0, 48)
            let opWidth = rows.map(\.operation.rawValue.count).max() ?? 0
            for change in rows {
                lines.append("  \(change.subject.padding(toLength: max(width, change.subject.count), withPad: " ", startingAt: 0))  "
                             + "\(change.operation.rawValue.padding(toLength: opWidth, withPad: " ", startingAt: 0))  \(change.detail)")
            }
        }
        lines += notes.map { "\n\($0)" }
        let acting = changes.filter(\.acts).count
        lines.append("")
        lines.append("\(acting) change\(acting == 1 ? "" : "s")\(applied ? " made" : " to make"), \(changes.filter { $0.operation == .unchanged }.count) unchanged, \(blockers.count) blocker\(blockers.count == 1 ? "" : "s")")
        return lines.joined(separator: "\n")
    }

    func json() -> String {
        struct Document: Encodable {
            var stage: String
            var applied: Bool
            var blockers: Int
            var changes: [Change]
            var notes: [String]
        }
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
        let data = (try? encoder.encode(Document(stage: stage, applied: applied, blockers: blockers.count, changes: changes, notes: notes))) ?? Data()
        return String(decoding: data, as: UTF8.self)
    }

    /// The objects to write as a YAML stream (kubectl apply -f -), every other row as a comment.
    func yaml() -> String {
        var out: [String] = []
        for change in changes {
            out.append("# \(change.operation.rawValue) \(change.namespace.isEmpty ? "" : change.namespace + "/")\(change.subject): \(change.detail.replacingOccurrences(of: "\n", with: " "))")
            if let object = change.object, [.create, .update, .recreate].contains(change.operation) {
                var clean = object.stripped
                clean[path: ["metadata", "resourceVersion"]] = nil
                out.append("---")
                out.append(YAMLConversion.yaml(clean).trimmingCharacters(in: .newlines))
            }
        }
        return out.joined(separator: "\n")
    }
}

/// `plan`: one report of stages 1, 2, 4 and 5 per namespace, workload by workload.
public struct PlanReport: Sendable {
    public var inventory: Inventory
    public var changes: [Change]

    public init(inventory: Inventory, changes: [Change]) { self.inventory = inventory; self.changes = changes }

    public var blockers: Int { changes.filter(\.isBlocker).count }

    public func table(translation: Translation) -> String {
        var lines = ["akvs migrate plan (dry run: inventory, prepare, translate, workloads)"]
        let namespaces = Set(inventory.workloads.map(\.namespace) + inventory.classes.map(\.namespace)).sorted()
        for namespace in namespaces {
            lines.append("")
            lines.append("namespace \(namespace)")
            lines.append("  WORKLOAD | VOLUME → SECRET | PATHS KEPT | ACTIONS | WARNINGS | BLOCKERS")
            for workload in inventory.workloads where workload.namespace == namespace {
                let subject = "\(workload.kind)/\(workload.name)"
                let own = changes.filter { $0.namespace == namespace && $0.subject == subject }
                let volumes = workload.volumes.map { volume -> String in
                    let entry = inventory.classes.first { $0.namespace == namespace && $0.name == volume.secretProviderClass }
                    return "\(volume.name) → \(entry.flatMap(translation.filesSecretName) ?? "-")"
                }.joined(separator: ", ")
                let paths = workload.volumes.flatMap { volume in
                    inventory.classes.first { $0.namespace == namespace && $0.name == volume.secretProviderClass }?.files.map(\.path) ?? []
                }.joined(separator: " ")
                let actions = own.filter(\.acts).map(\.operation.rawValue).joined(separator: ",")
                let warnings = workload.warnings.count
                let blockers = (workload.blockers + own.filter(\.isBlocker).map(\.detail))
                lines.append("  \(subject) | \(volumes) | \(paths.isEmpty ? "-" : paths) | \(actions.isEmpty ? "-" : actions) | \(warnings) | \(blockers.isEmpty ? "-" : Array(Set(blockers)).sorted().joined(separator: "; "))")
            }
            for change in changes where change.namespace == namespace && !inventory.workloads.contains(where: { "\($0.kind)/\($0.name)" == change.subject }) {
                lines.append("  · \(change.subject): \(change.operation.rawValue): \(change.detail)")
            }
        }
        let global = changes.filter { $0.namespace.isEmpty }
        if !global.isEmpty {
            lines.append("")
            lines.append("cluster")
            lines += global.map { "  · \($0.subject): \($0.operation.rawValue): \($0.detail)" }
        }
        lines.append("")
        lines.append(blockers == 0 ? "ready: no blockers (\(changes.filter(\.acts).count) changes)" : "\(blockers) blocker\(blockers == 1 ? "" : "s"): the rows marked blocked stay on the CSI driver until fixed")
        return lines.joined(separator: "\n")
    }

    public func json() -> String {
        struct Document: Encodable { var ready: Bool; var blockers: Int; var inventory: Inventory; var changes: [Change] }
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
        return String(decoding: (try? encoder.encode(Document(ready: blockers == 0, blockers: blockers, inventory: inventory, changes: changes))) ?? Data(), as: UTF8.self)
    }
}
