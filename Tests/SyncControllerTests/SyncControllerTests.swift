import Crypto
import Emulator
import Foundation
import Kubernetes
import KubernetesTestServer
import SecretsStoreAPI
import StructuredJSON
import SyncController
import Testing

@Suite(.serialized) struct SyncControllerTests {
    @Test func createsTheSecretOwnedAndLabelledThenReportsNoChange() async throws {
        try await Harness.with(pollInterval: .milliseconds(500)) { h in
            try await h.createSPC()
            try await h.createSync("db", items: [("db", "password"), ("api", "token")], labels: ["team": "a"])
            let created = try await h.waitFor("db", "Create", reason: "CreateSucceeded")
            #expect(created.status?.syncHash?.hasPrefix("akvs1:") == true)
            #expect(created.status?.lastSuccessfulSyncTime != nil)
            let secret = try await h.client.get(Secret.self, name: "db", namespace: "apps")
            #expect(secret.data?["password"] == Data("db-v1".utf8))
            #expect(secret.data?["token"] == Data("api-v1".utf8))
            #expect(secret.metadata.labels?["secrets-store.sync.x-k8s.io"] == "")
            #expect(secret.metadata.labels?["team"] == "a")
            #expect(secret.metadata.ownerReferences == [OwnerReference(apiVersion: "secret-sync.x-k8s.io/v1alpha1", kind: "SecretSync", name: "db", uid: created.metadata.uid!)])

            // Polls that find nothing new make no Kubernetes writes at all: no Secret, no status, no event.
            let writes = await h.statistics.kubernetesWrites
            let reconciles = await h.statistics.reconciles
            // At least two polls (500 ms apart); waited for, not slept, so a loaded machine only takes longer.
            let deadline = ContinuousClock.now + .seconds(20)
            while await h.statistics.reconciles < reconciles + 2, ContinuousClock.now < deadline { try await Task.sleep(for: .milliseconds(50)) }
            #expect(await h.statistics.reconciles >= reconciles + 2)
            #expect(await h.statistics.kubernetesWrites == writes)
            let after = try await h.sync("db")
            #expect(after.status == created.status)
            #expect(try await h.client.get(Secret.self, name: "db", namespace: "apps").metadata.resourceVersion == secret.metadata.resourceVersion)

            // Deleting the SecretSync garbage-collects its Secret.
            try await h.client.delete(SecretSync.self, name: "db", namespace: "apps")
            #expect(await h.secretValue("db", "password") == nil)
        }
    }

    @Test func rotationUpdatesTheSecretAndForceSynchronizationRewrites() async throws {
        try await Harness.with(pollInterval: .milliseconds(400)) { h in
            try await h.createSPC()
            try await h.createSync("rot", items: [("db", "password")])
            try await h.waitFor("rot", "Create", reason: "CreateSucceeded")
            _ = try await h.vaultAdmin().setSecret("db", value: "db-v2")
            try await h.waitFor("rot", "Update", reason: "UpdateValueChangeOrForceUpdateSucceeded")
            #expect(await h.secretValue("rot", "password") == "db-v2")

            var sync = try await h.sync("rot")
            let hash = sync.status?.syncHash
            sync.spec.forceSynchronization = "once"
            _ = try await h.client.update(sync)
            let deadline = ContinuousClock.now + .seconds(10)
            while try await h.sync("rot").status?.syncHash == hash, ContinuousClock.now < deadline { try await Task.sleep(for: .milliseconds(25)) }
            let forced = try await h.sync("rot")
            #expect(forced.status?.syncHash != hash, "forceSynchronization rewrites the Secret")
            #expect(forced.status?.conditions?.first { $0.type == "Update" }?.reason == "UpdateValueChangeOrForceUpdateSucceeded")
        }
    }

    @Test func aForcedOrEditedSyncReadsTheVaultNotTheCache() async throws {
        // A cache that would still hold the first values for a minute, and no polls: only edits reconcile.
        try await Harness.with(cacheTTL: .seconds(60)) { h in
            try await h.createSPC()
            try await h.createSync("fresh", items: [("db", "password")])
            try await h.waitFor("fresh", "Create", reason: "CreateSucceeded")
            _ = try await h.vaultAdmin().setSecret("db", value: "db-v2")

            // The vault is down when the force comes: the answer is ProviderError, not the cached db-v1.
            try await h.emulator.admin.setFaults(FaultSettings(outage: true), vault: "sync-kv")
            var sync = try await h.sync("fresh")
            sync.spec.forceSynchronization = "1"
            _ = try await h.client.update(sync)
            let down = try await h.waitFor("fresh", "Update", reason: "ProviderError")
            #expect(down.status?.conditions?.first { $0.type == "Update" }?.observedGeneration == down.metadata.generation)
            #expect(await h.secretValue("fresh", "password") == "db-v1", "the Secret is kept")

            // Back up: the retry still reads the vault (the force has not succeeded yet) and finds db-v2.
            try await h.emulator.admin.setFaults(FaultSettings(), vault: "sync-kv")
            try await h.waitFor("fresh", "Update", reason: "UpdateValueChangeOrForceUpdateSucceeded", timeout: .seconds(30))
            #expect(await h.secretValue("fresh", "password") == "db-v2")

            // An SPC edit reads the vault too.
            _ = try await h.vaultAdmin().setSecret("db", value: "db-v3")
            var spc = try await h.client.get(SecretProviderClass.self, name: "vault", namespace: "apps")
            let objects = spc.spec.parameters?["objects"] ?? ""
            spc.spec.parameters?["objects"] = objects + "\n"
            _ = try await h.client.update(spc)
            let deadline = ContinuousClock.now + .seconds(15)
            while await h.secretValue("fresh", "password") != "db-v3", ContinuousClock.now < deadline { try await Task.sleep(for: .milliseconds(50)) }
            #expect(await h.secretValue("fresh", "password") == "db-v3")
        }
    }

    @Test func neverOverwritesASecretItDoesNotOwn() async throws {
        try await Harness.with { h in
            try await h.createSPC()
            _ = try await h.client.create(Secret(metadata: ObjectMeta(name: "taken", namespace: "apps"), data: ["password": Data("mine".utf8)]))
            try await h.createSync("taken", items: [("db", "password")])
            let failed = try await h.waitFor("taken", "Create", reason: "InvalidClusterSecretLabelError")
            let condition = try #require(failed.status?.conditions?.first)
            #expect(condition.status == "False")
            #expect(condition.message.contains("not owned by this SecretSync"))
            #expect(await h.secretValue("taken", "password") == "mine")
            var events: [Event] = []
            let deadline = ContinuousClock.now + .seconds(5)
            repeat {
                events = try await h.client.list(Event.self, namespace: "apps").items
                if events.contains(where: { $0.reason == "InvalidClusterSecretLabelError" }) { break }
                try await Task.sleep(for: .milliseconds(25))
            } while ContinuousClock.now < deadline
            #expect(events.contains { $0.reason == "InvalidClusterSecretLabelError" && $0.type == "Warning" })
            #expect(!events.contains { ($0.note ?? "").contains("db-v1") }, "events never carry secret values")
        }
    }

    @Test func inputErrorsNameTheFieldAndTheFix() async throws {
        try await Harness.with { h in
            try await h.createSPC()
            try await h.createSync("nospc", items: [("db", "password")], spc: "missing")
            let noSPC = try await h.waitFor("nospc", "Create", reason: "ControllerSPCError")
            #expect(noSPC.status?.conditions?.first?.message.contains("SecretProviderClass apps/missing not found") == true)

            try await h.createSync("nosa", items: [("db", "password")], serviceAccount: "ghost")
            let noSA = try await h.waitFor("nosa", "Create", reason: "UserInputValidationFailed")
            #expect(noSA.status?.conditions?.first?.message.contains("service account apps/ghost not found") == true)

            try await h.createSync("badpath", items: [("nothere", "x")])
            let badPath = try await h.waitFor("badpath", "Create", reason: "ProviderError")
            #expect(badPath.status?.conditions?.first?.message.contains("nothere") == true)

            try await h.createSync("token", items: [("db", "x")], type: "kubernetes.io/service-account-token")
            try await h.waitFor("token", "Create", reason: "UserInputValidationFailed")

            // Creating the missing SPC later: the SecretSync converges on its retry.
            try await h.createSPC("missing")
            try await h.waitFor("nospc", "Create", reason: "CreateSucceeded", timeout: .seconds(20))
        }
    }

    @Test func wrongIdentityIsAProviderErrorAndKeepsNothingHalfWritten() async throws {
        try await Harness.with { h in
            try await h.createSPC()
            _ = try await h.client.create(ServiceAccount(metadata: ObjectMeta(name: "stranger", namespace: "apps")))
            try await h.createSync("stranger", items: [("db", "password")], serviceAccount: "stranger")
            let failed = try await h.waitFor("stranger", "Create", reason: "ProviderError")
            #expect(failed.status?.syncHash == nil)
            #expect(await h.secretValue("stranger", "password") == nil)
        }
    }

    @Test func vaultOutageKeepsTheSecretAndRecoveryConverges() async throws {
        try await Harness.with(pollInterval: .milliseconds(300)) { h in
            try await h.createSPC()
            try await h.createSync("out", items: [("db", "password"), ("api", "token")])
            try await h.waitFor("out", "Create", reason: "CreateSucceeded")
            try await h.emulator.admin.setFaults(FaultSettings(outage: true), vault: "sync-kv")
            let down = try await h.waitFor("out", "Update", reason: "ProviderError")
            #expect(down.status?.conditions?.first { $0.type == "Update" }?.status == "False")
            #expect(await h.secretValue("out", "password") == "db-v1", "an outage leaves the Secret as it was")

            let writesBefore = await h.statistics.secretWrites
            try await h.emulator.admin.setFaults(FaultSettings(), vault: "sync-kv")
            // Recovery with the same values: the status says so, the Secret is not rewritten.
            try await h.waitFor("out", "Update", reason: "UpdateNoValueChangeSucceeded")
            #expect(await h.statistics.secretWrites == writesBefore)
            _ = try await h.vaultAdmin().setSecret("db", value: "db-v3")
            try await h.waitFor("out", "Update", reason: "UpdateValueChangeOrForceUpdateSucceeded")
            #expect(await h.secretValue("out", "password") == "db-v3")
        }
    }

    @Test func partialSyncKeepsLastValuesOfFailedItems() async throws {
        try await Harness.with(pollInterval: .milliseconds(300)) { h in
            try await h.createSPC()
            try await h.createSync("part", items: [("db", "password"), ("api", "token")])
            try await h.waitFor("part", "Create", reason: "CreateSucceeded")
            // Disable the latest version of `api`: that object fails, `db` still updates.
            let admin = try await h.vaultAdmin()
            let api = try await admin.getSecret("api")
            _ = try await admin.updateSecret("api", version: String(api.id?.split(separator: "/").last ?? ""), enabled: false)
            _ = try await admin.setSecret("db", value: "db-v2")
            let partial = try await h.waitFor("part", "Update", reason: "PartialSync")
            let message = try #require(partial.status?.conditions?.first { $0.type == "Update" }?.message)
            let items = try JSONValue.parse(Data(message.utf8))
            #expect(items.arrayValue?.first?["targetKey"] == "token")
            try await Task.sleep(for: .milliseconds(200))
            #expect(await h.secretValue("part", "password") == "db-v2")
            #expect(await h.secretValue("part", "token") == "api-v1")
        }
    }

    /// Found by the chaos run: a controller whose leadership ended (its task cancelled) drained its whole work
    /// queue, writing Secrets and status next to the new leader for seconds. Cancelled, it stops writing at once.
    @Test func cancelledControllerStopsWritingAtOnce() async throws {
        try await Harness.with(startController: false) { h in
            try await h.createSPC()
            for i in 0..<40 { try await h.createSync("s-\(i)", items: [("db", "password")]) }
            // Slow API replies, so the queue is still full when leadership ends.
            await h.server.setFaults(.init(latencyMs: 50))
            let statistics = SyncStatistics()
            let run = Task { await h.controller(statistics: statistics).run() }
            while await statistics.secretWrites < 3 { try await Task.sleep(for: .milliseconds(10)) }
            run.cancel()
            let atCancel = await statistics.secretWrites + statistics.statusWrites
            _ = await run.value
            try await Task.sleep(for: .milliseconds(500))
            let after = await statistics.secretWrites + statistics.statusWrites
            // At most the requests already on the wire (two workers).
            #expect(after - atCancel <= 2, "\(after - atCancel) writes after cancellation")
            await h.server.setFaults(.init())
        }
    }

    /// Found by the chaos run: a replica starting while the API server answered 500s exited at once
    /// (a crash loop); it now waits for the API server and then reads the same key as the others.
    @Test func hashKeyWaitsOutAPIServerErrors() async throws {
        try await KubeTestServer.with(.init()) { server in
            let config = try KubernetesConfiguration.kubeconfig(yaml: server.kubeconfig(), directory: "/", source: "test")
            let client = try KubernetesClient(configuration: config)
            let first = try await HashKeyStore.loadOrCreate(client: client, namespace: "default")
            await server.setFaults(.init(errorRate: 1))
            let waiting = Task { try await HashKeyStore.loadOrCreate(client: client, namespace: "default", initialBackoff: .milliseconds(50), maxBackoff: .milliseconds(200)) }
            try await Task.sleep(for: .milliseconds(600))
            await server.setFaults(.init())
            let second = try await waiting.value
            #expect(second.withUnsafeBytes { Data($0) } == first.withUnsafeBytes { Data($0) })
            await client.shutdown()
        }
    }

    /// Found by the chaos run: a replica that took over (no memory of the last write) dropped the keys whose
    /// objects failed, instead of keeping their last values.
    @Test func partialSyncAfterFailoverKeepsKeysOfFailedItems() async throws {
        try await Harness.with(pollInterval: .milliseconds(300), startController: false) { h in
            try await h.createSPC()
            try await h.createSync("part", items: [("db", "password"), ("api", "token")])
            let first = Task { await h.controller(statistics: SyncStatistics(), pollInterval: .milliseconds(300)).run() }
            try await h.waitFor("part", "Create", reason: "CreateSucceeded")
            first.cancel()
            _ = await first.value
            let admin = try await h.vaultAdmin()
            let api = try await admin.getSecret("api")
            _ = try await admin.updateSecret("api", version: String(api.id?.split(separator: "/").last ?? ""), enabled: false)
            _ = try await admin.setSecret("db", value: "db-v2")
            // The other replica takes over with an empty memory.
            let second = Task { await h.controller(statistics: SyncStatistics(), pollInterval: .milliseconds(300)).run() }
            defer { second.cancel() }
            _ = try await h.waitFor("part", "Update", reason: "PartialSync")
            try await Task.sleep(for: .milliseconds(200))
            #expect(await h.secretValue("part", "password") == "db-v2")
            #expect(await h.secretValue("part", "token") == "api-v1")
        }
    }

    @Test func tlsSecretsSplitCertificateAndKey() async throws {
        try await Harness.with { h in
            try await h.createSPC(objects: [], extraObjects: ["objectName: tls\nobjectType: secret"])
            try await h.createSync("web-tls", items: [("tls", "tls.crt"), ("tls", "tls.key")], type: "kubernetes.io/tls")
            try await h.waitFor("web-tls", "Create", reason: "CreateSucceeded")
            let crt = try #require(await h.secretValue("web-tls", "tls.crt"))
            let key = try #require(await h.secretValue("web-tls", "tls.key"))
            #expect(crt.hasPrefix("-----BEGIN CERTIFICATE-----") && !crt.contains("PRIVATE KEY"))
            #expect(key.contains("PRIVATE KEY-----") && !key.contains("CERTIFICATE"))
        }
    }
}
