import Foundation
import Kubernetes
import SecretsStoreAPI
import SyncController
import Testing

@Suite struct AKVSyncExpansionTests {
    func akv(_ objects: [AKVSync.Object]) -> AKVSync {
        AKVSync(metadata: ObjectMeta(name: "app", namespace: "apps", uid: "u-1", generation: 1),
                spec: .init(keyvaultName: "kv", clientID: "c", tenantID: "t", serviceAccountName: "web", objects: objects))
    }

    @Test func secretsCertsAndCompoundEntries() throws {
        let expansion = try AKVSyncExpansion.expand(akv([
            .init(secretInAKV: "db", versionHistory: 2),
            .init(certInAKV: "tls", kubernetesSecretType: "kubernetes.io/tls", versionHistory: 2),
            .init(certInAKV: "plain-cert"),
            .init(mapping: [.init(dataKey: "user", secretInAKV: "user"), .init(dataKey: "old-db", secretInAKV: "db", version: 1)], kubernetesSecretName: "bundle"),
        ]))
        let byName = Dictionary(uniqueKeysWithValues: expansion.secretSyncs.map { ($0.metadata.name!, $0) })
        #expect(Set(byName.keys) == ["db", "tls-v0", "tls-v1", "plain-cert", "bundle"])
        #expect(byName["db"]?.spec.secretObject.data.map(\.targetKey) == ["v0", "v1"])
        #expect(byName["db"]?.spec.secretObject.data.map(\.sourcePath) == ["db/0", "db/1"])
        #expect(byName["tls-v1"]?.spec.secretObject.data.map(\.targetKey) == ["tls.crt", "tls.key"])
        #expect(byName["tls-v1"]?.spec.secretObject.data.first?.sourcePath == "tls/1")
        #expect(byName["plain-cert"]?.spec.secretObject.data.map(\.targetKey) == ["v0"])
        #expect(byName["bundle"]?.spec.secretObject.data.map(\.sourcePath) == ["user", "db/1"])
        let objects = expansion.secretProviderClass.spec.parameters?["objects"] ?? ""
        #expect(objects.contains("objectName: db\n    objectType: secret\n    objectVersionHistory: 2"))
        #expect(expansion.secretSyncs.allSatisfy { $0.metadata.ownerReferences?.first?.uid == "u-1" && $0.spec.serviceAccountName == "web" })
        #expect(expansion.secretProviderClass.metadata.name == "app")
    }

    @Test func invalidEntriesNameTheField() {
        #expect(throws: SyncFailure.self) { try AKVSyncExpansion.expand(akv([.init(secretInAKV: "a", certInAKV: "b")])) }
        #expect(throws: SyncFailure.self) { try AKVSyncExpansion.expand(akv([.init(mapping: [.init(dataKey: "k", secretInAKV: "a")])])) }
        #expect(throws: SyncFailure.self) { try AKVSyncExpansion.expand(akv([.init(secretInAKV: "a"), .init(certInAKV: "a", kubernetesSecretName: "a")])) }
    }
}

@Suite(.serialized) struct AKVSyncControllerTests {
    @Test func generatesSyncsThatProduceSecretsAndRefusesForeignObjects() async throws {
        try await Harness.with(generatedSPCParameters: true) { h in
            let spec = AKVSync.Spec(keyvaultName: "sync-kv", clientID: Harness.clientID, tenantID: "6f1b2c3d-0000-4000-8000-000000000001",
                                    serviceAccountName: "web", objects: [.init(secretInAKV: "db"), .init(mapping: [.init(dataKey: "token", secretInAKV: "api")], kubernetesSecretName: "bundle")])
            _ = try await h.client.create(AKVSync(metadata: ObjectMeta(name: "app", namespace: "apps"), spec: spec))
            try await h.waitFor("db", "Create", reason: "CreateSucceeded", timeout: .seconds(20))
            try await h.waitFor("bundle", "Create", reason: "CreateSucceeded", timeout: .seconds(20))
            #expect(await h.secretValue("db", "v0") == "db-v1")
            #expect(await h.secretValue("bundle", "token") == "api-v1")
            let akv = try await h.client.get(AKVSync.self, name: "app", namespace: "apps")
            #expect(akv.status?.generatedSecretSyncs == ["bundle", "db"])
            #expect(akv.status?.conditions?.first?.reason == "Generated")

            // Dropping an entry deletes its SecretSync (and so its Secret).
            var edited = akv
            edited.spec.objects = [.init(secretInAKV: "db")]
            _ = try await h.client.update(edited)
            let deadline = ContinuousClock.now + .seconds(10)
            while (try? await h.sync("bundle")) != nil, ContinuousClock.now < deadline { try await Task.sleep(for: .milliseconds(50)) }
            #expect((try? await h.sync("bundle")) == nil)

            // A SecretSync of the same name that the AKVSync did not generate is left alone, and status says so.
            try await h.createSPC()
            try await h.createSync("mine", items: [("db", "password")])
            _ = try await h.client.create(AKVSync(metadata: ObjectMeta(name: "other", namespace: "apps"), spec: .init(
                keyvaultName: "sync-kv", clientID: Harness.clientID, tenantID: "t", serviceAccountName: "web", objects: [.init(secretInAKV: "db", kubernetesSecretName: "mine")])))
            var refused: AKVSync?
            let until = ContinuousClock.now + .seconds(10)
            while ContinuousClock.now < until {
                refused = try await h.client.get(AKVSync.self, name: "other", namespace: "apps")
                if refused?.status?.conditions?.first?.status == "False" { break }
                try await Task.sleep(for: .milliseconds(50))
            }
            #expect(refused?.status?.conditions?.first?.message.contains("not generated by this AKVSync") == true)
            #expect(try await h.sync("mine").spec.secretObject.data.first?.targetKey == "password")
        }
    }
}
