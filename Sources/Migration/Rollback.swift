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

/// `cleanup`: after verify passed and only with --confirm, the nodePublishSecretRef Secrets of the inventory go,
/// each only when a fresh read of every pod and pod template in its namespace shows nothing naming it.
public struct Cleanup: Sendable {
    let inventory: Inventory
    let usage: CredentialUsage

    public init(inventory: Inventory, usage: CredentialUsage) { self.inventory = inventory; self.usage = usage }

    /// The namespaces whose pods and templates must be read.
    public static func namespaces(of inventory: Inventory) -> Set<String> {
        Set(inventory.credentialSecrets.compactMap { $0.split(separator: "/", maxSplits: 1).first.map(String.init) })
    }

    public func changes(existing: (String, String) -> Bool) -> [Change] {
        inventory.credentialSecrets.map { key in
            let parts = key.split(separator: "/", maxSplits: 1).map(String.init)
            let (namespace, name) = (parts[0], parts.count > 1 ? parts[1] : "")
            guard existing(namespace, name) else { return Change("cleanup", namespace, "Secret/\(name)", .unchanged, "already gone") }
            if let blocker = usage.blocker(secret: name, namespace: namespace) {
                return Change("cleanup", namespace, "Secret/\(name)", .blocked, blocker)
            }
            return Change("cleanup", namespace, "Secret/\(name)", .delete, "service-principal credentials no pod or pod template names any more",
                          object: ["apiVersion": "v1", "kind": "Secret", "metadata": ["name": .string(name), "namespace": .string(namespace)]])
        }
    }
}
