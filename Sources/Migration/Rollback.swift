import Foundation
import Kubernetes
import StructuredJSON

/// `rollback`: the SecretProviderClasses and workloads go back to their backed-up manifests exactly.
/// Generated SecretSyncs stay (deleting one would delete its Secret, which consumers may still read).
public struct Rollback: Sendable {
    let bundle: BackupBundle
    let snapshot: ClusterSnapshot

    public init(bundle: BackupBundle, snapshot: ClusterSnapshot) { self.bundle = bundle; self.snapshot = snapshot }

    public func changes() throws(MigrationError) -> [Change] {
        var changes: [Change] = []
        for original in try bundle.originals() {
            let namespace = original.text("metadata", "namespace") ?? "default"
            let name = original.text("metadata", "name") ?? ""
            let kind = original.text("kind") ?? ""
            let subject = "\(kind)/\(name)"
            let current = kind == "SecretProviderClass" ? snapshot.spc(name, namespace: namespace)
                : (snapshot.workloads.map(\.object) + snapshot.ownedPods).first { $0.text("kind") == kind && $0.objectKey == "\(namespace)/\(name)" }
            guard let current else {
                changes.append(Change("rollback", namespace, subject, .create, "recreated from the backup", object: original))
                continue
            }
            if Self.comparable(current) == Self.comparable(original) {
                changes.append(Change("rollback", namespace, subject, .unchanged, "already as backed up"))
                continue
            }
            if kind == "Pod" {
                changes.append(Change("rollback", namespace, subject, .recreate, "the bare pod is recreated from the backup", object: Self.withoutNode(original)))
            } else {
                var body = original
                body[path: ["metadata", "resourceVersion"]] = current[path: ["metadata", "resourceVersion"]]
                changes.append(Change("rollback", namespace, subject, .update, "restored from \(bundle.directory.path)", object: body))
            }
        }
        changes.append(Change("rollback", "", "SecretSync", .note,
                              "generated SecretSyncs stay, so no Secret disappears; once pods read the CSI volumes again: kubectl delete secretsync -A -l \(Translation.migratedLabel)"))
        return changes
    }

    /// What a user wrote: no server fields, no status, and no scheduler-set node for pods.
    static func comparable(_ object: JSONValue) -> JSONValue {
        var copy = object.stripped
        copy[path: ["metadata", "labels"]] = (copy[path: ["metadata", "labels"]]?.objectValue?.isEmpty ?? true) ? nil : copy[path: ["metadata", "labels"]]
        if copy.text("kind") == "Pod" { copy = withoutNode(copy) }
        return copy
    }

    static func withoutNode(_ pod: JSONValue) -> JSONValue {
        var copy = pod
        copy[path: ["spec", "nodeName"]] = nil
        return copy
    }
}

/// `cleanup`: after verify passed and only with --confirm, the nodePublishSecretRef Secrets of the inventory go
/// (those no remaining CSI volume still references), then the local inventory files.
public struct Cleanup: Sendable {
    let inventory: Inventory
    let snapshot: ClusterSnapshot

    public init(inventory: Inventory, snapshot: ClusterSnapshot) { self.inventory = inventory; self.snapshot = snapshot }

    public func changes() -> [Change] {
        let stillUsed = Set(snapshot.workloads.flatMap { w in w.csiVolumes.compactMap { $0.text("csi", "nodePublishSecretRef", "name").map { "\(w.namespace)/\($0)" } } })
        return inventory.credentialSecrets.map { key in
            let parts = key.split(separator: "/", maxSplits: 1).map(String.init)
            let (namespace, name) = (parts[0], parts.count > 1 ? parts[1] : "")
            if stillUsed.contains(key) {
                return Change("cleanup", namespace, "Secret/\(name)", .blocked, "still referenced by a CSI volume (a workload that did not move); kept")
            }
            guard snapshot.secret(name, namespace: namespace) != nil else { return Change("cleanup", namespace, "Secret/\(name)", .unchanged, "already gone") }
            return Change("cleanup", namespace, "Secret/\(name)", .delete, "service-principal credentials no longer used",
                          object: ["apiVersion": "v1", "kind": "Secret", "metadata": ["name": .string(name), "namespace": .string(namespace)]])
        }
    }
}
