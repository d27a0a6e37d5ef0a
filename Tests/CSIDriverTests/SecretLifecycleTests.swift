import CSIAPI
import CSIDriver
import EmulatorTestSupport
import Foundation
import Kubernetes
import SecretsStoreAPI
import Testing

/// secretObjects Secrets that stay right: edits reach them on the next republish (without a provider call), they are
/// never gone while a pod of the class runs, and `akvs.io/retain-secret` keeps them after the last pod.
@Suite(.enabled(if: isRoot, "mounts tmpfs: needs root"), .serialized) struct SecretLifecycleTests {
    static let db: [SecretProviderClass.SecretObject] = [.init(secretName: "db", type: "Opaque", data: [.init(objectName: "plain", key: "password")])]

    @Test func anEditOfKeysLabelsOrTypeReachesTheSecretOnTheNextRepublish() async throws {
        try await CSIHarness.with { h in
            try await h.createSPC(secretObjects: Self.db)
            let request = h.publishRequest(pod: "web-0", uid: try await h.createPod("web-0"))
            try await h.publish(request)
            let before = try #require(await h.secret("db"))
            let gets = try await h.gets("secrets/plain")
            try await h.editSPC { $0.spec.secretObjects = [.init(secretName: "db", type: "Opaque", labels: ["team": "payments"],
                                                                 data: [.init(objectName: "plain", key: "pw")])] }
            try await h.publish(request)  // rotation is off: no provider call, the mounted files are used
            let edited = try #require(await h.secret("db"))
            #expect(edited.data?.keys.sorted() == ["pw"] && edited.data?["pw"] == Data("plain-value-1".utf8))
            #expect(edited.metadata.labels?["team"] == "payments" && edited.metadata.uid == before.metadata.uid)
            #expect(try await h.gets("secrets/plain") == gets)

            // A type cannot be updated: the managed Secret is replaced, keeping its owners.
            try await h.editSPC { $0.spec.secretObjects = [.init(secretName: "db", type: "example.com/database", data: [.init(objectName: "plain", key: "pw")])] }
            try await h.publish(request)
            let retyped = try #require(await h.secret("db"))
            #expect(retyped.type == "example.com/database" && retyped.metadata.uid != before.metadata.uid)
            #expect(retyped.metadata.ownerReferences?.map(\.uid) == before.metadata.ownerReferences?.map(\.uid))
            #expect(await h.events(reason: "FailedToCreateSecret").isEmpty)
        }
    }

    @Test func aSecretDeletedUnderRunningPodsComesBackOwnedByEachOfThem() async throws {
        try await CSIHarness.with(configure: { $0.secretCheckInterval = .milliseconds(200) }) { h in
            try await h.createSPC(secretObjects: Self.db)
            let a = h.publishRequest(pod: "a", uid: try await h.createPod("a"))
            let b = h.publishRequest(pod: "b", uid: try await h.createPod("b"))
            try await h.publish(a)
            try await h.publish(b)
            // Garbage collection racing an owner update, or a person: the Secret is gone while both pods run.
            try await h.client.delete(Secret.self, name: "db", namespace: "apps")
            try await Task.sleep(for: .milliseconds(250))
            try await h.publish(a)
            let back = try #require(await h.secret("db"))
            let owners = [await h.podStatus("a-apps-vault"), await h.podStatus("b-apps-vault")].compactMap { $0?.metadata.uid }
            #expect(back.metadata.ownerReferences?.map(\.uid) == owners && owners.count == 2)
            #expect(back.data?["password"] == Data("plain-value-1".utf8))
        }
    }

    @Test func aScaleDownOrRollingUpdateNeverLeavesRunningPodsWithoutTheSecret() async throws {
        try await CSIHarness.with { h in
            try await h.createSPC(secretObjects: Self.db)
            // A rolling update: the new pod mounts before the old one goes.
            let old = h.publishRequest(pod: "web-old", uid: try await h.createPod("web-old"))
            try await h.publish(old)
            let new = h.publishRequest(pod: "web-new", uid: try await h.createPod("web-new"))
            try await h.publish(new)
            try await h.unpublish(old.targetPath)
            try await h.client.delete(Pod.self, name: "web-old", namespace: "apps")
            #expect(await h.secret("db") != nil)
            #expect(await h.secret("db")?.metadata.ownerReferences?.count == 1)
            // The last pod goes: garbage collection takes the Secret (upstream's behaviour without retain).
            try await h.unpublish(new.targetPath)
            try await h.eventually("the Secret goes with the last pod") { await h.secret("db") == nil }
        }
    }

    @Test func retainSecretKeepsItAfterTheLastPodOwnedByNothingAndLabelled() async throws {
        try await CSIHarness.with { h in
            try await h.createSPC(secretObjects: Self.db, annotations: ["akvs.io/retain-secret": "true"])
            let a = h.publishRequest(pod: "a", uid: try await h.createPod("a"))
            let b = h.publishRequest(pod: "b", uid: try await h.createPod("b"))
            try await h.publish(a)
            try await h.publish(b)
            try await h.unpublish(a.targetPath)
            let shared = try #require(await h.secret("db"))
            #expect(shared.metadata.ownerReferences?.count == 1 && shared.metadata.labels?["akvs.io/retained"] == nil)
            try await h.unpublish(b.targetPath)
            try await Task.sleep(for: .milliseconds(200))
            let kept = try #require(await h.secret("db"))
            #expect(kept.metadata.ownerReferences == nil && kept.metadata.labels?["akvs.io/retained"] == "true")
            #expect(kept.data?["password"] == Data("plain-value-1".utf8))
            // A pod of the class again: the Secret is owned again, no longer marked retained.
            let c = h.publishRequest(pod: "c", uid: try await h.createPod("c"))
            try await h.publish(c)
            let adopted = try #require(await h.secret("db"))
            #expect(adopted.metadata.ownerReferences?.count == 1 && adopted.metadata.labels?["akvs.io/retained"] == nil)
        }
    }
}
