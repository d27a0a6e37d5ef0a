import Foundation
import Kubernetes
import KubernetesTestServer
import SecretsStoreAPI
import StructuredJSON
import Testing

@Suite struct ApplyStatusGCTests {
    static func secretConfig(_ data: [String: String], labels: [String: String] = [:]) -> JSONValue {
        var config: JSONValue = ["apiVersion": "v1", "kind": "Secret", "metadata": ["name": "applied"],
                                 "data": .object(data.mapValues { .string(Data($0.utf8).base64EncodedString()) })]
        if !labels.isEmpty { config[path: ["metadata", "labels"]] = .object(labels.mapValues { .string($0) }) }
        return config
    }

    @Test func serverSideApplyOwnershipConflictsAndForce() async throws {
        try await withCluster { _, client in
            let first = try await client.apply(Secret.self, name: "applied", configuration: Self.secretConfig(["a": "1", "b": "2"]), fieldManager: "sync")
            #expect(value(first, "a") == "1")
            // Re-applying the same configuration changes nothing.
            let again = try await client.apply(Secret.self, name: "applied", configuration: Self.secretConfig(["a": "1", "b": "2"]), fieldManager: "sync")
            #expect(again.metadata.resourceVersion == first.metadata.resourceVersion)

            // Another manager changing a field owned by `sync` with a different value conflicts.
            let conflict = await kubeError {
                _ = try await client.apply(Secret.self, name: "applied", configuration: Self.secretConfig(["a": "other"]), fieldManager: "intruder")
            }
            #expect(conflict?.isConflict == true)
            #expect(conflict?.description.contains("conflict with \"sync\"") == true)
            #expect(conflict?.description.contains(".data.a") == true)
            // Same value: shared ownership, no conflict.
            _ = try await client.apply(Secret.self, name: "applied", configuration: Self.secretConfig(["a": "1"]), fieldManager: "intruder")
            // Force takes the field.
            let forced = try await client.apply(Secret.self, name: "applied", configuration: Self.secretConfig(["a": "forced"]), fieldManager: "intruder", force: true)
            #expect(value(forced, "a") == "forced")

            // A field `sync` stops applying is removed (b is owned by sync alone).
            let shrunk = try await client.apply(Secret.self, name: "applied", configuration: Self.secretConfig(["b": "2"]), fieldManager: "sync")
            #expect(value(shrunk, "b") == "2")
            #expect(value(shrunk, "a") == "forced", "a is owned by intruder now, so sync dropping it must not remove it")
            let dropped = try await client.apply(Secret.self, name: "applied", configuration: Self.secretConfig([:]), fieldManager: "sync")
            #expect(dropped.data?["b"] == nil)

            let missingManager = await kubeError {
                _ = try await client.apply(Secret.self, name: "applied", configuration: Self.secretConfig([:]), fieldManager: "")
            }
            #expect(missingManager?.code == 422)
            #expect(missingManager?.description.contains("fieldManager: Required value") == true)
        }
    }

    @Test func updateByAnotherManagerIsRecordedAndConflictsWithApply() async throws {
        try await withCluster { _, client in
            _ = try await client.create(secret("applied", ["a": "1"]), fieldManager: "kubectl-create")
            let conflict = await kubeError {
                _ = try await client.apply(Secret.self, name: "applied", configuration: Self.secretConfig(["a": "2"]), fieldManager: "secrets-store-sync-controller")
            }
            #expect(conflict?.isConflict == true, "a Secret someone else wrote must not be silently taken over")
        }
    }

    @Test func statusSubresourceAndGeneration() async throws {
        try await withCluster { _, client in
            let spec = SecretSync.Spec(secretProviderClassName: "spc", serviceAccountName: "default",
                                       secretObject: .init(data: [.init(sourcePath: "a", targetKey: "a")]))
            var sync = SecretSync(metadata: ObjectMeta(name: "ss", namespace: "default"), spec: spec,
                                  status: .init(syncHash: "ignored-on-create"))
            sync = try await client.create(sync)
            #expect(sync.status == nil || sync.status?.syncHash == nil)
            #expect(sync.metadata.generation == 1)

            sync.status = .init(syncHash: "v1:abc", lastSuccessfulSyncTime: "2026-01-01T00:00:00Z")
            let withStatus = try await client.updateStatus(sync)
            #expect(withStatus.status?.syncHash == "v1:abc")
            #expect(withStatus.metadata.generation == 1, "status changes do not bump generation")

            var edited = withStatus
            edited.spec.forceSynchronization = "now"
            edited.status = .init(syncHash: "overwritten?")
            let specChanged = try await client.update(edited)
            #expect(specChanged.metadata.generation == 2)
            #expect(specChanged.status?.syncHash == "v1:abc", "the main resource ignores status")

            var labelled = specChanged
            labelled.metadata.labels = ["x": "y"]
            #expect(try await client.update(labelled).metadata.generation == 2, "metadata changes do not bump generation")

            let patched = try await client.patch(SecretSync.self, name: "ss", .merge(["status": ["syncHash": "v1:def"]]), subresource: "status")
            #expect(patched.status?.syncHash == "v1:def")
            #expect(patched.spec.forceSynchronization == "now")
        }
    }

    @Test func garbageCollectionBackgroundAndOrphan() async throws {
        try await withCluster { _, client in
            let spec = SecretSync.Spec(secretProviderClassName: "spc", serviceAccountName: "default",
                                       secretObject: .init(data: [.init(sourcePath: "a", targetKey: "a")]))
            for name in ["owner1", "owner2"] {
                let owner = try await client.create(SecretSync(metadata: ObjectMeta(name: name, namespace: "default"), spec: spec))
                let ref = OwnerReference(apiVersion: SecretSync.resourceKind.apiVersion, kind: "SecretSync", name: name, uid: owner.metadata.uid!)
                var dependent = secret(name, ["k": "v"])
                dependent.metadata.ownerReferences = [ref]
                _ = try await client.create(dependent)
            }
            try await client.delete(SecretSync.self, name: "owner1")
            #expect(await kubeError { _ = try await client.get(Secret.self, name: "owner1") }?.isNotFound == true)

            try await client.delete(SecretSync.self, name: "owner2", options: .init(propagationPolicy: "Orphan"))
            let orphan = try await client.get(Secret.self, name: "owner2")
            #expect(orphan.metadata.ownerReferences == nil)
        }
    }

    @Test func finalizersDelayDeletion() async throws {
        try await withCluster { _, client in
            var s = secret("fin")
            s.metadata.finalizers = ["akvs.io/test"]
            _ = try await client.create(s)
            try await client.delete(Secret.self, name: "fin")
            var pending = try await client.get(Secret.self, name: "fin")
            #expect(pending.metadata.deletionTimestamp != nil)
            pending.metadata.finalizers = []
            _ = try await client.update(pending)
            #expect(await kubeError { _ = try await client.get(Secret.self, name: "fin") }?.isNotFound == true)
        }
    }
}
