import CSIAPI
import CSIDriver
import Crypto
import EmulatorTestSupport
import Foundation
import GRPCCore
import Kubernetes
import SecretsStoreAPI
import Testing
import X509

@Suite(.enabled(if: isRoot, "mounts tmpfs: needs root"), .serialized) struct SecretSyncTests {
    static let objects = ["objectName: plain\nobjectType: secret", "objectName: rotating\nobjectType: secret\nobjectAlias: current",
                          "objectName: tls-pem\nobjectType: secret"]
    static let secretObjects: [SecretProviderClass.SecretObject] = [
        .init(secretName: "db", type: "Opaque", labels: ["team": "web"], annotations: ["note": "from vault"],
              data: [.init(objectName: "plain", key: "password"), .init(objectName: "current", key: "current")]),
        .init(secretName: "web-tls", type: "kubernetes.io/tls", data: [.init(objectName: "tls-pem", key: "tls.key"), .init(objectName: "tls-pem", key: "tls.crt")]),
    ]

    @Test func secretsAreCreatedSharedByPodsAndCollectedWithTheLastPod() async throws {
        try await CSIHarness.with { h in
            try await h.createSPC(objects: Self.objects, secretObjects: Self.secretObjects)
            let a = try await h.createPod("a")
            let b = try await h.createPod("b")
            try await h.publish(h.publishRequest(pod: "a", uid: a))
            let db = try #require(await h.secret("db"))
            #expect(db.type == "Opaque")
            #expect(db.data?["password"] == Data("plain-value-1".utf8) && db.data?["current"] == Data("r3".utf8))
            #expect(db.metadata.labels == ["team": "web", "secrets-store.csi.k8s.io/managed": "true"])
            #expect(db.metadata.annotations == ["note": "from vault"])
            let statusA = try #require(await h.podStatus("a-apps-vault"))
            #expect(db.metadata.ownerReferences?.map(\.uid) == [statusA.metadata.uid ?? ""])
            #expect(db.metadata.ownerReferences?.first?.kind == "SecretProviderClassPodStatus" && db.metadata.ownerReferences?.first?.controller == nil)

            let tls = try #require(await h.secret("web-tls"))
            #expect(tls.type == "kubernetes.io/tls")
            let key = String(decoding: try #require(tls.data?["tls.key"]), as: UTF8.self)
            let crt = String(decoding: try #require(tls.data?["tls.crt"]), as: UTF8.self)
            #expect(key.hasPrefix("-----BEGIN EC PRIVATE KEY-----"))
            #expect(crt.hasPrefix("-----BEGIN CERTIFICATE-----") && !crt.contains("PRIVATE KEY"))
            let certificate = try Certificate(pemEncoded: crt)
            #expect(try Certificate.PrivateKey(P256.Signing.PrivateKey(pemRepresentation: key)).publicKey == certificate.publicKey)

            // A second pod adds itself as an owner; the Secret is written once more, never duplicated.
            try await h.publish(h.publishRequest(pod: "b", uid: b))
            let statusB = try #require(await h.podStatus("b-apps-vault"))
            #expect(await h.secret("db")?.metadata.ownerReferences?.map(\.uid) == [statusA.metadata.uid ?? "", statusB.metadata.uid ?? ""])
            #expect(h.metrics.render().contains(#"sync_k8s_secret_total{os_type="linux",provider="azure"} 4"#))

            // Pod a goes (its status is collected with it): the Secret stays for b.
            try await h.unpublish(h.target("a"))
            try await h.client.delete(Pod.self, name: "a", namespace: "apps")
            try await h.eventually("owner a removed") { await h.secret("db")?.metadata.ownerReferences?.map(\.uid) == [statusB.metadata.uid ?? ""] }
            // The last consumer goes: garbage collection deletes the Secrets.
            try await h.unpublish(h.target("b"))
            try await h.eventually("Secrets collected") {
                let db = await h.secret("db"), tls = await h.secret("web-tls")
                return db == nil && tls == nil
            }
        }
    }

    @Test func aSecretAkvsDoesNotOwnIsNeverOverwritten() async throws {
        try await CSIHarness.with(retryDelay: .milliseconds(200)) { h in
            _ = try await h.client.create(Secret(metadata: ObjectMeta(name: "db", namespace: "apps"), type: "Opaque", data: ["password": Data("mine".utf8)]))
            try await h.createSPC(objects: Self.objects, secretObjects: [Self.secretObjects[0]])
            let a = try await h.createPod("a")
            let request = h.publishRequest(pod: "a", uid: a)
            try await h.publish(request)  // the mount itself succeeds
            #expect(h.read(request.targetPath, "plain") == "plain-value-1")
            #expect(await h.secret("db")?.data == ["password": Data("mine".utf8)])
            try await h.eventually("FailedToCreateSecret event") {
                await h.events(reason: "FailedToCreateSecret").contains { $0.note?.contains("not managed by the driver") == true }
            }
            #expect(await h.events(reason: "FailedToCreateSecret").allSatisfy { $0.note?.contains("plain-value-1") != true })
            // The owner removes its Secret: the background retry creates ours.
            try await h.client.delete(Secret.self, name: "db", namespace: "apps")
            try await h.eventually("Secret created by the retry") { await h.secret("db")?.data?["password"] == Data("plain-value-1".utf8) }
        }
    }

    @Test func invalidSecretObjectsAreReportedByField() async throws {
        try await CSIHarness.with(retryDelay: .seconds(60)) { h in
            try await h.createSPC(objects: Self.objects, secretObjects: [
                .init(secretName: "Bad_Name", type: "Opaque", data: [.init(objectName: "plain", key: "k")]),
                .init(secretName: "nokey", type: "Opaque", data: [.init(objectName: "missing", key: "k")]),
                .init(secretName: "tls-wrong", type: "kubernetes.io/tls", data: [.init(objectName: "plain", key: "tls.key"), .init(objectName: "plain", key: "tls.crt")]),
            ])
            let a = try await h.createPod("a")
            try await h.publish(h.publishRequest(pod: "a", uid: a))
            try await h.eventually("three failure events") { await h.events(reason: "FailedToCreateSecret").count >= 3 }
            let notes = await h.events(reason: "FailedToCreateSecret").compactMap(\.note)
            #expect(notes.contains { $0.contains("spec.secretObjects[0].secretName 'Bad_Name'") })
            #expect(notes.contains { $0.contains("file matching objectName missing not found") })
            #expect(notes.contains { $0.contains("spec.secretObjects[2]") && $0.contains("neither PEM nor") })
            #expect(!notes.contains { $0.contains("plain-value-1") })
        }
    }
}
