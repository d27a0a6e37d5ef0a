import Foundation
import Kubernetes
import Logging
import SecretsStoreAPI
import StructuredJSON

/// Carries out `--apply`: each change once, idempotently (an object that already exists is left as it is).
public struct Executor: Sendable {
    public static let fieldManager = "akvs-migrate"
    let client: KubernetesClient
    /// The sync controller's field manager, which takes over handed-over Secrets.
    let syncFieldManager: String

    public init(client: KubernetesClient, syncFieldManager: String = "secrets-store-sync-controller") {
        self.client = client; self.syncFieldManager = syncFieldManager
    }

    /// Applies `changes` in order (creates before handovers); returns them with what happened.
    public func apply(_ changes: [Change]) async -> [Change] {
        var done: [Change] = []
        var uids: [String: String] = [:]
        for var change in changes.sorted(by: { order($0) < order($1) }) {
            guard change.acts else { done.append(change); continue }
            do {
                switch change.operation {
                case .create:
                    let created = try await create(change.object!)
                    if let uid = created?.text("metadata", "uid") { uids["\(change.namespace)/\(change.subject)"] = uid }
                    if created == nil { change.operation = .unchanged; change.detail = "already exists; " + change.detail }
                case .update:
                    try await update(change.object!)
                case .recreate:
                    let object = change.object!
                    let kind = try kind(object)
                    try? await client.delete(kind, name: object.text("metadata", "name") ?? "", namespace: change.namespace)
                    try await waitGone(kind, object.text("metadata", "name") ?? "", namespace: change.namespace)
                    _ = try await client.create(kind, namespace: change.namespace, body: object)
                case .handover:
                    let name = String(change.subject.dropFirst("Secret/".count))
                    try await handover(name, namespace: change.namespace, syncUID: uids["\(change.namespace)/SecretSync/\(name)"])
                case .delete:
                    try await client.delete(try kind(change.object!), name: change.object!.text("metadata", "name") ?? "", namespace: change.namespace)
                default: break
                }
            } catch {
                change.operation = .blocked
                change.detail = "failed: \(error); nothing else was changed for it"
            }
            done.append(change)
        }
        return done
    }

    func order(_ change: Change) -> Int {
        switch change.operation {
        case .create: return change.subject.hasPrefix("ServiceAccount/") ? 0 : 1
        case .handover: return 2
        default: return 3
        }
    }

    func kind(_ object: JSONValue) throws -> ResourceKind {
        guard let name = object.text("kind"), let kind = MigrationKinds.kind(named: name) else {
            throw MigrationError.usage("unknown kind \(object.text("kind") ?? "(none)")")
        }
        return kind
    }

    /// POST; nil when it already exists.
    func create(_ object: JSONValue) async throws -> JSONValue? {
        do { return try await client.create(try kind(object), namespace: object.text("metadata", "namespace"), body: object) } catch let error as KubernetesError where error.isAlreadyExists {
            return nil
        }
    }

    /// PUT of the whole rewritten object under field manager akvs-migrate (its resourceVersion makes it conditional).
    func update(_ object: JSONValue) async throws {
        var body = object
        body[path: ["metadata", "managedFields"]] = nil
        body["status"] = nil
        _ = try await client.replace(try kind(object), body: body, fieldManager: Self.fieldManager)
    }

    /// The CSI driver's synced Secret becomes the SecretSync's: owner reference, managed label, and its data
    /// re-applied (same values, read here and sent back, never printed) under the sync controller's field
    /// manager so that the controller's later applies do not conflict with the driver's old ownership.
    func handover(_ name: String, namespace: String, syncUID: String?) async throws {
        let uid: String
        if let syncUID { uid = syncUID } else {
            guard let sync = try await client.object(MigrationKinds.secretSync, name: name, namespace: namespace), let found = sync.text("metadata", "uid") else {
                throw MigrationError.cluster("SecretSync \(namespace)/\(name) not found for the handover")
            }
            uid = found
        }
        guard let secret = try await client.object(MigrationKinds.secret, name: name, namespace: namespace) else { return }
        var labels = secret[path: ["metadata", "labels"]]?.objectValue ?? [:]
        labels["secrets-store.sync.x-k8s.io"] = ""
        labels["secrets-store.csi.k8s.io/managed"] = nil
        let configuration: JSONValue = [
            "apiVersion": "v1", "kind": "Secret", "type": secret["type"] ?? "Opaque", "data": secret["data"] ?? [:],
            "metadata": ["name": .string(name), "namespace": .string(namespace), "labels": .object(labels),
                         "ownerReferences": [["apiVersion": "secret-sync.x-k8s.io/v1alpha1", "kind": "SecretSync", "name": .string(name), "uid": .string(uid)]]],
        ]
        _ = try await client.patch(MigrationKinds.secret, name: name, namespace: namespace,
                                   .json([["op": "replace", "path": "/metadata/ownerReferences",
                                           "value": configuration[path: ["metadata", "ownerReferences"]] ?? []]]))
        _ = try await client.applyObject(MigrationKinds.secret, name: name, namespace: namespace, configuration: configuration,
                                         fieldManager: syncFieldManager, force: true)
    }

    func waitGone(_ kind: ResourceKind, _ name: String, namespace: String) async throws {
        for _ in 0..<100 {
            if try await client.object(kind, name: name, namespace: namespace) == nil { return }
            try await Task.sleep(for: .milliseconds(100))
        }
        throw MigrationError.cluster("\(kind) \(namespace)/\(name) is still terminating after 10 s")
    }
}
