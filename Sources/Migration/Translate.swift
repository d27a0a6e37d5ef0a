import Foundation
import StructuredJSON

/// Stage 4: SecretProviderClasses move to workload identity; SecretSyncs are generated so that no consumer has
/// to change what it reads (secretObjects Secrets keep their names, types and keys; CSI files become keys
/// that the workload stage maps back to the exact paths).
public struct Translation: Sendable {
    public struct Options: Sendable {
        public var clientID: String?
        public var clientIDMap: [String: String] = [:]
        /// The service account SecretSyncs authenticate as, where the SPC did not already use workload identity.
        public var serviceAccount: String = "akvs-sync"
        /// `secretsync` or `akvsync`.
        public var style: String = "secretsync"
        public init() {}
    }

    public static let migratedLabel = "akvs.io/migrated-from"
    /// On a translated SPC: the identity mode it had, so that later stages (and a second run) decide as the first did.
    public static let originalIdentityAnnotation = "akvs.io/original-identity"

    let snapshot: ClusterSnapshot
    let inventory: Inventory
    let options: Options

    public init(snapshot: ClusterSnapshot, inventory: Inventory, options: Options) {
        self.snapshot = snapshot; self.inventory = inventory; self.options = options
    }

    /// The client ID an SPC in `namespace` ends with, or nil (a blocker).
    func clientID(for entry: Inventory.ClassEntry) -> String? {
        entry.clientID ?? options.clientIDMap[entry.namespace] ?? options.clientID
    }

    /// The service account a SecretSync of this SPC uses: the consumers' own when the SPC already used workload
    /// identity (their federation keeps working), else the migration's per-namespace account.
    func serviceAccount(for entry: Inventory.ClassEntry) -> String {
        guard entry.identity == "workload identity" else { return options.serviceAccount }
        let accounts = Set(consumers(of: entry).map(\.serviceAccount))
        return accounts.count == 1 ? accounts.first! : options.serviceAccount
    }

    func consumers(of entry: Inventory.ClassEntry) -> [Inventory.WorkloadEntry] {
        inventory.workloads.filter { $0.namespace == entry.namespace && $0.blockers.isEmpty && $0.volumes.contains { $0.secretProviderClass == entry.name } }
    }

    /// Every SPC that can move: its rewrite and its SecretSyncs.
    public func changes() -> [Change] {
        var changes: [Change] = []
        for entry in inventory.classes {
            let subject = "SecretProviderClass/\(entry.name)"
            if !entry.blockers.isEmpty {
                changes += entry.blockers.map { Change("translate", entry.namespace, subject, .blocked, $0) }
                continue
            }
            let windows = inventory.workloads.filter { $0.namespace == entry.namespace && $0.windows && $0.volumes.contains { $0.secretProviderClass == entry.name } }
            if !windows.isEmpty {
                changes.append(Change("translate", entry.namespace, subject, .blocked,
                                      "used by Windows workload\(windows.count == 1 ? "" : "s") \(windows.map { "\($0.kind)/\($0.name)" }.joined(separator: ", ")): the Secret Store extension runs on Linux only; left untouched"))
                continue
            }
            guard let id = clientID(for: entry) else {
                changes.append(Change("translate", entry.namespace, subject, .blocked,
                                      "\(entry.identity) has no client ID to move to: pass --client-id ID or --client-id-map FILE with a line '\(entry.namespace): <client ID>'"))
                continue
            }
            changes.append(classChange(entry, clientID: id))
            changes += syncChanges(entry)
        }
        return changes
    }

    func classChange(_ entry: Inventory.ClassEntry, clientID: String) -> Change {
        let subject = "SecretProviderClass/\(entry.name)"
        guard var spc = snapshot.spc(entry.name, namespace: entry.namespace) else { return Change("translate", entry.namespace, subject, .blocked, "not found") }
        var parameters = spc[path: ["spec", "parameters"]]?.objectValue ?? [:]
        let removed = ["usePodIdentity", "useVMManagedIdentity", "userAssignedIdentityID"].filter { parameters[$0] != nil }
        if parameters["clientID"]?.stringValue == clientID && removed.isEmpty {
            return Change("translate", entry.namespace, subject, .unchanged, "already workload identity (clientID \(clientID))")
        }
        for key in removed { parameters[key] = nil }
        spc[path: ["metadata", "annotations", Self.originalIdentityAnnotation]] = .string(entry.identity)
        parameters["clientID"] = .string(clientID)
        spc[path: ["spec", "parameters"]] = .object(parameters)
        let what = ["clientID \(clientID)"] + removed.map { "without \($0)" }
        return Change("translate", entry.namespace, subject, .update, "\(entry.identity) → workload identity: " + what.joined(separator: ", ") + "; objects kept", object: spc)
    }

    func syncChanges(_ entry: Inventory.ClassEntry) -> [Change] {
        let account = serviceAccount(for: entry)
        if options.style == "akvsync" { return akvSyncChanges(entry, account: account) }
        var changes: [Change] = []
        for object in entry.secretObjects {
            let items = object.keys.sorted { $0.key < $1.key }.map { (sourcePath: $0.value, targetKey: $0.key) }
            changes += sync(name: object.secretName, entry: entry, account: account, type: object.type, items: items,
                            why: "secretObjects \(object.secretName) (\(object.type), keys \(object.keys.keys.sorted().joined(separator: ", "))): same name, type and keys for its \(object.consumers.count) consumer\(object.consumers.count == 1 ? "" : "s")")
        }
        guard let name = filesSecretName(entry) else { return changes }
        let items = entry.files.map { (sourcePath: $0.sourcePath, targetKey: $0.key) }
        changes += sync(name: name, entry: entry, account: account, type: "Opaque", items: items,
                        why: "the files of volumes using \(entry.name): " + entry.files.map { "\($0.path) → key \($0.key)" }.joined(separator: ", "))
        return changes
    }

    /// The SecretSync (and Secret) that carries the files of volumes using this SPC; nil when no workload mounts it.
    public func filesSecretName(_ entry: Inventory.ClassEntry) -> String? {
        guard !consumers(of: entry).isEmpty else { return nil }
        let taken = Set(entry.secretObjects.map(\.secretName))
        var name = "\(entry.name)-files"
        var suffix = 2
        while taken.contains(name) || foreignSecret(name, namespace: entry.namespace) { name = "\(entry.name)-files-\(suffix)"; suffix += 1 }
        return name
    }

    /// Whether translate moves this SPC (no blocker, a client ID to use).
    func moves(_ entry: Inventory.ClassEntry) -> Bool {
        entry.blockers.isEmpty && clientID(for: entry) != nil
            && !inventory.workloads.contains { $0.namespace == entry.namespace && $0.windows && $0.volumes.contains { $0.secretProviderClass == entry.name } }
    }

    /// A Secret of that name exists and is neither a CSI-synced one nor ours.
    func foreignSecret(_ name: String, namespace: String) -> Bool {
        guard let secret = snapshot.secret(name, namespace: namespace) else { return false }
        return !secret.list("metadata", "ownerReferences").contains { ["SecretSync", "SecretProviderClassPodStatus"].contains($0.text("kind") ?? "") }
    }

    func sync(name: String, entry: Inventory.ClassEntry, account: String, type: String, items: [(sourcePath: String, targetKey: String)], why: String) -> [Change] {
        let subject = "SecretSync/\(name)"
        let body: JSONValue = [
            "apiVersion": "secret-sync.x-k8s.io/v1alpha1", "kind": "SecretSync",
            "metadata": ["name": .string(name), "namespace": .string(entry.namespace), "labels": [Self.migratedLabel: .string(entry.name)]],
            "spec": ["secretProviderClassName": .string(entry.name), "serviceAccountName": .string(account),
                     "secretObject": ["type": .string(type), "data": .array(items.map { ["sourcePath": .string($0.sourcePath), "targetKey": .string($0.targetKey)] })]],
        ]
        var changes: [Change] = []
        if let existing = snapshot.secretSyncs.first(where: { $0.text("metadata", "name") == name && $0.text("metadata", "namespace") == entry.namespace }) {
            changes.append(existing["spec"] == body["spec"]
                ? Change("translate", entry.namespace, subject, .unchanged, "exists with the same spec")
                : Change("translate", entry.namespace, subject, .blocked, "a SecretSync \(name) exists with another spec; rename or delete it, then run translate again"))
        } else {
            changes.append(Change("translate", entry.namespace, subject, .create, why + "; service account \(account)", object: body))
        }
        if let secret = snapshot.secret(name, namespace: entry.namespace) {
            let owners = secret.list("metadata", "ownerReferences")
            if owners.contains(where: { $0.text("kind") == "SecretSync" }) { return changes }
            if owners.contains(where: { $0.text("kind") == "SecretProviderClassPodStatus" }) {
                changes.append(Change("translate", entry.namespace, "Secret/\(name)", .handover,
                                      "the CSI driver's synced Secret becomes SecretSync \(name)'s (its owner changes; its data stays, so env and volume consumers see no gap)"))
            } else {
                changes.append(Change("translate", entry.namespace, "Secret/\(name)", .blocked,
                                      "Secret \(name) exists and is not owned by the CSI driver; the SecretSync would never overwrite it: rename or delete it"))
            }
        }
        return changes
    }
}
