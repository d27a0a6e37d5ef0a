import AzureIdentity
import Foundation
import Kubernetes
import SecretsStoreAPI
import StructuredJSON
import Yams

/// Everything the migration reads, from a live cluster or from manifest files (`-f`).
public struct ClusterSnapshot: Sendable {
    public var classes: [JSONValue] = []
    public var workloads: [Workload] = []
    /// Pods owned by a controller: listed in the inventory with their owner chain, rewritten through the owner.
    public var ownedPods: [JSONValue] = []
    /// Secrets: metadata, type and key names only (values are dropped when read), except nodePublishSecretRef `clientid`s.
    public var secrets: [JSONValue] = []
    public var secretSyncs: [JSONValue] = []
    public var akvSyncs: [JSONValue] = []
    public var serviceAccounts: [JSONValue] = []
    public var namespaces: [String] = []
    public var driverDaemonSets: [JSONValue] = []
    public var providerDaemonSets: [JSONValue] = []
    /// ReplicaSets and Jobs, to walk pod owners up to their Deployment or CronJob.
    var owners: [String: JSONValue] = [:]
    public var offline = false

    public init() {}

    /// Reads the cluster (one namespace, or all).
    public static func load(client: KubernetesClient, namespace: String?) async throws(MigrationError) -> ClusterSnapshot {
        func list(_ kind: ResourceKind, _ ns: String? = namespace, labels: String? = nil) async throws(MigrationError) -> [JSONValue] {
            do { return try await client.objects(kind, namespace: ns, labelSelector: labels) } catch {
                throw .cluster("listing \(kind)\(ns.map { " in \($0)" } ?? ""): \(error)")
            }
        }
        var snapshot = ClusterSnapshot()
        snapshot.classes = try await list(MigrationKinds.spc)
        snapshot.secretSyncs = (try? await list(MigrationKinds.secretSync)) ?? []
        snapshot.akvSyncs = (try? await list(MigrationKinds.akvSync)) ?? []
        snapshot.serviceAccounts = try await list(MigrationKinds.serviceAccount)
        snapshot.secrets = try await list(MigrationKinds.secret).map(Self.redacted)
        if let namespace { snapshot.namespaces = [namespace] } else {
            snapshot.namespaces = try await list(MigrationKinds.namespace).compactMap { $0.text("metadata", "name") }
        }
        for entry in MigrationKinds.workloads {
            for object in try await list(entry.kind) { snapshot.add(object) }
        }
        snapshot.driverDaemonSets = try await list(MigrationKinds.daemonSet, nil, labels: "app=secrets-store-csi-driver")
        snapshot.providerDaemonSets = try await list(MigrationKinds.daemonSet, nil, labels: "app=secrets-store-provider-azure")
        return snapshot
    }

    /// Reads manifest files: a FILE, or every *.yaml, *.yml and *.json under a DIR (multi-document YAML).
    public static func load(files path: String, namespace: String?) throws(MigrationError) -> ClusterSnapshot {
        var snapshot = ClusterSnapshot()
        snapshot.offline = true
        for document in try ManifestFiles.documents(at: path) {
            var object = document.value
            if object.text("metadata", "namespace") == nil, let kind = object.text("kind"), MigrationKinds.kind(named: kind)?.namespaced ?? true {
                object[path: ["metadata", "namespace"]] = .string("default")
            }
            if let namespace, object.text("metadata", "namespace") != namespace { continue }
            switch object.text("kind") {
            case "SecretProviderClass": snapshot.classes.append(object)
            case "SecretSync": snapshot.secretSyncs.append(object)
            case "AKVSync": snapshot.akvSyncs.append(object)
            case "ServiceAccount": snapshot.serviceAccounts.append(object)
            case "Secret": snapshot.secrets.append(redacted(object))
            case "DaemonSet" where object.text("metadata", "labels", "app") == "secrets-store-csi-driver": snapshot.driverDaemonSets.append(object)
            case "DaemonSet" where object.text("metadata", "labels", "app") == "secrets-store-provider-azure": snapshot.providerDaemonSets.append(object)
            default: snapshot.add(object)
            }
        }
        snapshot.namespaces = Array(Set(snapshot.classes.map { $0.text("metadata", "namespace") ?? "default" } + snapshot.workloads.map(\.namespace))).sorted()
        return snapshot
    }

    /// Sorts a workload-kind object: owned pods, ReplicaSets and Jobs stay behind their owners.
    mutating func add(_ object: JSONValue) {
        guard let workload = Workload(object) else { return }
        let owners = object.list("metadata", "ownerReferences")
        if workload.kind == "ReplicaSet" || workload.kind == "Job" { self.owners["\(workload.kind)/\(workload.namespace)/\(workload.name)"] = object }
        if workload.kind == "Pod", !owners.isEmpty { ownedPods.append(object); return }
        // A ReplicaSet of a Deployment or a Job of a CronJob is rewritten through its owner.
        if (workload.kind == "ReplicaSet" || workload.kind == "Job"), owners.contains(where: { ["Deployment", "CronJob"].contains($0.text("kind") ?? "") }) { return }
        workloads.append(workload)
    }

    /// The controller chain of an owned pod, e.g. `ReplicaSet/web-7d9 → Deployment/web`.
    func ownerChain(_ pod: JSONValue) -> [String] {
        var chain: [String] = []
        var current = pod
        let namespace = pod.text("metadata", "namespace") ?? "default"
        while let owner = current.list("metadata", "ownerReferences").first(where: { $0["controller"]?.boolValue != false }),
              let kind = owner.text("kind"), let name = owner.text("name") {
            chain.append("\(kind)/\(name)")
            guard let next = owners["\(kind)/\(namespace)/\(name)"] else { break }
            current = next
        }
        return chain
    }

    /// A Secret without values: key names stay (as empty strings), plus a `clientid` that is a GUID (an ID, not a
    /// secret; anything else may be the client secret in the wrong key, so it goes too).
    static func redacted(_ secret: JSONValue) -> JSONValue {
        var copy = secret.stripped
        var data: [String: JSONValue] = [:]
        func clientID(_ base64: String) -> JSONValue {
            let text = Data(base64Encoded: base64).map { String(decoding: $0, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines) } ?? ""
            return IdentityValidation.isGUID(text) ? .string(base64) : .string("")
        }
        for (key, value) in secret["data"]?.objectValue ?? [:] {
            data[key] = key.lowercased() == "clientid" ? clientID(value.stringValue ?? "") : .string("")
        }
        for (key, value) in secret["stringData"]?.objectValue ?? [:] {
            data[key] = key.lowercased() == "clientid" ? clientID(Data((value.stringValue ?? "").utf8).base64EncodedString()) : .string("")
        }
        copy["data"] = .object(data)
        copy["stringData"] = nil
        return copy
    }

    /// A Secret of the snapshot (values removed).
    public func secret(_ name: String, namespace: String) -> JSONValue? {
        secrets.first { $0.text("metadata", "name") == name && ($0.text("metadata", "namespace") ?? "default") == namespace }
    }

    func spc(_ name: String, namespace: String) -> JSONValue? {
        classes.first { $0.text("metadata", "name") == name && ($0.text("metadata", "namespace") ?? "default") == namespace }
    }
}

/// One YAML or JSON document of a manifest file.
public struct ManifestDocument: Sendable {
    public var file: String
    public var value: JSONValue
}

/// Manifest files on disk (offline mode).
public enum ManifestFiles {
    public static func documents(at path: String) throws(MigrationError) -> [ManifestDocument] {
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory) else {
            throw .usage("-f '\(path)' does not exist; give a manifest file or a folder of them")
        }
        var files: [String] = []
        if isDirectory.boolValue {
            let enumerator = FileManager.default.enumerator(atPath: path)
            while let item = enumerator?.nextObject() as? String {
                if [".yaml", ".yml", ".json"].contains(where: item.hasSuffix) { files.append("\(path)/\(item)") }
            }
            files.sort()
        } else {
            files = [path]
        }
        var documents: [ManifestDocument] = []
        for file in files {
            guard let text = try? String(contentsOfFile: file, encoding: .utf8) else { throw .usage("-f: cannot read \(file)") }
            do {
                for node in try Yams.compose_all(yaml: text) {
                    let value = YAMLConversion.json(node)
                    if value.objectValue == nil { continue }
                    if value.text("kind") == "List" {
                        documents += value.list("items").map { ManifestDocument(file: file, value: $0) }
                    } else {
                        documents.append(ManifestDocument(file: file, value: value))
                    }
                }
            } catch {
                throw .usage("-f: \(file) is not valid YAML: \(error)")
            }
        }
        return documents
    }
}

