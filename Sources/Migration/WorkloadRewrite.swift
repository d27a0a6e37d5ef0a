import Foundation
import StructuredJSON

/// Stage 5: each workload's CSI volumes become Secret volumes with the same volume name and mount paths, whose
/// `items` map the keys back to the exact original file paths (`name/0` subfolders included) and modes.
public struct WorkloadRewrite: Sendable {
    let translation: Translation
    let recreateBarePods: Bool
    let now: Date

    public init(translation: Translation, recreateBarePods: Bool, now: Date = Date()) {
        self.translation = translation; self.recreateBarePods = recreateBarePods; self.now = now
    }

    public func changes() -> [Change] {
        var changes: [Change] = []
        for entry in translation.inventory.workloads {
            let subject = "\(entry.kind)/\(entry.name)"
            guard let workload = translation.snapshot.workloads.first(where: { $0.key == "\(entry.kind)/\(entry.namespace)/\(entry.name)" }) else { continue }
            if !entry.blockers.isEmpty {
                changes += entry.blockers.map { Change("workloads", entry.namespace, subject, .blocked, $0) }
                continue
            }
            if workload.csiVolumes.isEmpty { changes.append(Change("workloads", entry.namespace, subject, .unchanged, "no CSI volume left")); continue }
            changes += entry.warnings.filter { $0.contains("subPath") }.map { Change("workloads", entry.namespace, subject, .note, $0) }
            switch rewrite(workload, entry) {
            case .failure(let failure): changes.append(Change("workloads", entry.namespace, subject, .blocked, failure.reason))
            case .success(let (object, summary)):
                if workload.kind == "Job" {
                    changes.append(Change("workloads", entry.namespace, subject, .blocked,
                                          "a Job's pod template is immutable: let it finish on the CSI volume, or delete it and create it from this template (--output yaml shows it)"))
                } else if workload.isBarePod {
                    changes.append(recreateBarePods
                        ? Change("workloads", entry.namespace, subject, .recreate, summary + "; the bare pod is deleted and created again", object: object)
                        : Change("workloads", entry.namespace, subject, .blocked, "bare pod: pass --recreate-bare-pods to delete and recreate it with: " + summary))
                } else {
                    let restart = workload.kind == "CronJob" ? "; the next run uses it" : "; restarted through kubectl.kubernetes.io/restartedAt"
                    changes.append(Change("workloads", entry.namespace, subject, .update, summary + restart, object: object))
                }
            }
        }
        return changes
    }

    /// The rewritten workload and what changed, or why it cannot be rewritten.
    func rewrite(_ workload: Workload, _ entry: Inventory.WorkloadEntry) -> Result<(JSONValue, String), RewriteFailure> {
        var object = workload.object
        var volumes = workload.podSpec.list("volumes")
        var summaries: [String] = []
        for (index, volume) in volumes.enumerated() where volume.text("csi", "driver") == "secrets-store.csi.k8s.io" {
            let className = volume.text("csi", "volumeAttributes", "secretProviderClass") ?? ""
            guard let classEntry = translation.inventory.classes.first(where: { $0.namespace == workload.namespace && $0.name == className }) else {
                return .failure(RewriteFailure("volume \(volume.text("name") ?? ""): SecretProviderClass \(className) not in the inventory"))
            }
            guard translation.moves(classEntry), let secretName = translation.filesSecretName(classEntry) else {
                return .failure(RewriteFailure("volume \(volume.text("name") ?? ""): SecretProviderClass \(className) does not move (see translate)"))
            }
            let items: [JSONValue] = classEntry.files.map { file in
                var item: JSONValue = ["key": .string(file.key), "path": .string(file.path)]
                if let mode = file.mode, let value = Int(mode, radix: 8) { item["mode"] = .number(Double(value)) }
                return item
            }
            volumes[index] = ["name": volume["name"] ?? "", "secret": ["secretName": .string(secretName), "items": .array(items)]]
            summaries.append("volume \(volume.text("name") ?? "") → Secret \(secretName) (\(classEntry.files.map(\.path).joined(separator: ", ")))")
        }
        object[path: workload.podSpecPath + ["volumes"]] = .array(volumes)
        if workload.isBarePod {
            object = object.stripped
            object[path: ["spec", "nodeName"]] = nil
        } else if workload.kind != "CronJob" {
            object[path: workload.templatePath + ["metadata", "annotations", "kubectl.kubernetes.io/restartedAt"]] = .string(ISO8601DateFormatter().string(from: now))
        }
        return .success((object, summaries.joined(separator: "; ")))
    }

    struct RewriteFailure: Error { let reason: String; init(_ reason: String) { self.reason = reason } }
}

