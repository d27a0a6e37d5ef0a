import Foundation
import Kubernetes
import SecretsStoreAPI
import StructuredJSON

/// Carries out `--apply`: each change once, idempotently (an object that already exists is left as it is).
public struct Executor: Sendable {
    public static let fieldManager = "akvs-migrate"
    let client: KubernetesClient

    public init(client: KubernetesClient) { self.client = client }

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

    /// The CSI driver's synced Secret becomes the SecretSync's: one JSON patch replaces its owner references, so the
    /// controller's ownership test passes and its first write takes over data and labels (the values are never read).
    func handover(_ name: String, namespace: String, syncUID: String?) async throws {
        let uid: String
        if let syncUID { uid = syncUID } else {
            guard let sync = try await client.object(MigrationKinds.secretSync, name: name, namespace: namespace), let found = sync.text("metadata", "uid") else {
                throw MigrationError.cluster("SecretSync \(namespace)/\(name) not found for the handover")
            }
            uid = found
        }
        let owner: JSONValue = ["apiVersion": "secret-sync.x-k8s.io/v1alpha1", "kind": "SecretSync", "name": .string(name), "uid": .string(uid)]
        _ = try await client.patch(MigrationKinds.secret, name: name, namespace: namespace,
                                   .json([["op": "replace", "path": "/metadata/ownerReferences", "value": [owner]]]))
    }

    func waitGone(_ kind: ResourceKind, _ name: String, namespace: String) async throws {
        for _ in 0..<100 {
            if try await client.object(kind, name: name, namespace: namespace) == nil { return }
            try await Task.sleep(for: .milliseconds(100))
        }
        throw MigrationError.cluster("\(kind) \(namespace)/\(name) is still terminating after 10 s")
    }
}
