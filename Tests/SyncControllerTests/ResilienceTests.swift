import Emulator
import Foundation
import Kubernetes
import KubernetesTestServer
import SecretsStoreAPI
import SyncController
import Testing

@Suite(.serialized) struct ResilienceTests {
    /// Two replicas behind one Lease: only the leader reconciles; when it stops, the other takes over.
    @Test func twoReplicasNeverBothWrite() async throws {
        try await Harness.with(startController: false) { h in
            try await h.createSPC()
            let statsA = SyncStatistics(), statsB = SyncStatistics()
            let electorA = LeaderElector(client: h.client, namespace: "default", name: "akvs-sync", identity: "a", leaseDuration: .seconds(2),
                                         renewDeadline: .seconds(1), retryPeriod: .milliseconds(100))
            let electorB = LeaderElector(client: h.client, namespace: "default", name: "akvs-sync", identity: "b", leaseDuration: .seconds(2),
                                         renewDeadline: .seconds(1), retryPeriod: .milliseconds(100))
            let a = h.controller(statistics: statsA), b = h.controller(statistics: statsB)
            // B starts once A leads (not after a fixed sleep, which a loaded machine can outlast).
            let (leading, leads) = AsyncStream<Void>.makeStream()
            let runA = Task { try await electorA.run { leads.yield(); await a.run() } }
            var aLeads = leading.makeAsyncIterator()
            _ = await aLeads.next()
            let runB = Task { try await electorB.run { await b.run() } }
            try await h.createSync("one", items: [("db", "password")])
            try await h.waitFor("one", "Create", reason: "CreateSucceeded")
            #expect(await statsA.reconciles > 0)
            #expect(await statsB.reconciles == 0, "the follower must not reconcile")

            runA.cancel()
            _ = try? await runA.value
            try await h.createSync("two", items: [("api", "token")])
            try await h.waitFor("two", "Create", reason: "CreateSucceeded", timeout: .seconds(10))
            #expect(await statsB.reconciles > 0)
            runB.cancel()
            _ = try? await runB.value
        }
    }

    /// API server trouble (429 storm, dropped watches, lost watch history) delays but never loses a sync.
    @Test func apiServerThrottlingAndWatchLossConverge() async throws {
        try await Harness.with { h in
            try await h.createSPC()
            try await h.createSync("before", items: [("db", "password")])
            try await h.waitFor("before", "Create", reason: "CreateSucceeded")
            await h.server.setFaults(.init(throttle: .init(count: 6, retryAfterSeconds: 1)))
            await h.server.dropWatches()
            await h.server.restart()
            try await h.createSync("after", items: [("api", "token")])
            try await h.waitFor("after", "Create", reason: "CreateSucceeded", timeout: .seconds(20))
            #expect(await h.secretValue("after", "token") == "api-v1")
        }
    }
}

@Suite(.serialized) struct CircuitBreakerTests {
    /// A vault that stays down stops being called after the threshold; the Secret keeps its value throughout.
    @Test func aFailingVaultIsPausedNotHammered() async throws {
        try await Harness.with(pollInterval: .milliseconds(100), circuit: (threshold: 3, cooldown: .seconds(30))) { h in
            try await h.createSPC()
            try await h.createSync("cb", items: [("db", "password")])
            try await h.waitFor("cb", "Create", reason: "CreateSucceeded")
            try await h.emulator.admin.setFaults(FaultSettings(outage: true), vault: "sync-kv")
            let paused = try await h.waitFor("cb", "Update", reason: "ProviderError", timeout: .seconds(20))
            _ = paused
            // Wait until the message says the circuit is open, then count vault calls over a while.
            let deadline = ContinuousClock.now + .seconds(20)
            while ContinuousClock.now < deadline {
                let message = try await h.sync("cb").status?.conditions?.first { $0.type == "Update" }?.message ?? ""
                if message.contains("paused") { break }
                try await Task.sleep(for: .milliseconds(50))
            }
            let before = try await h.emulator.admin.counters().vaults["sync-kv"]?.total ?? 0
            try await Task.sleep(for: .seconds(1))
            let after = try await h.emulator.admin.counters().vaults["sync-kv"]?.total ?? 0
            #expect(after == before, "no calls to a vault while its circuit is open")
            #expect(await h.secretValue("cb", "password") == "db-v1")
        }
    }
}

@Suite(.serialized) struct DriftRepairTests {
    /// With drift repair on, an edited or deleted managed Secret comes back from memory, without a vault call.
    @Test func editedAndDeletedSecretsAreRestoredWithoutCallingTheVault() async throws {
        try await Harness.with(driftRepair: true) { h in
            try await h.createSPC()
            try await h.createSync("drift", items: [("db", "password")])
            try await h.waitFor("drift", "Create", reason: "CreateSucceeded")
            try await Task.sleep(for: .milliseconds(200))
            let gets = try await h.emulator.admin.counters().vaults["sync-kv"]?.total ?? 0

            _ = try await h.client.patch(Secret.self, name: "drift", namespace: "apps", .merge(["data": ["password": .string(Data("tampered".utf8).base64EncodedString())]]))
            var deadline = ContinuousClock.now + .seconds(10)
            while await h.secretValue("drift", "password") != "db-v1", ContinuousClock.now < deadline { try await Task.sleep(for: .milliseconds(25)) }
            #expect(await h.secretValue("drift", "password") == "db-v1")

            try await h.client.delete(Secret.self, name: "drift", namespace: "apps")
            deadline = ContinuousClock.now + .seconds(10)
            while await h.secretValue("drift", "password") != "db-v1", ContinuousClock.now < deadline { try await Task.sleep(for: .milliseconds(25)) }
            #expect(await h.secretValue("drift", "password") == "db-v1")
            #expect(try await h.emulator.admin.counters().vaults["sync-kv"]?.total ?? 0 == gets, "repair does not call the vault")
            var restored = false
            let until = ContinuousClock.now + .seconds(5)
            while !restored, ContinuousClock.now < until {
                restored = try await h.client.list(Event.self, namespace: "apps").items.contains { $0.reason == "SecretRestored" }
                if !restored { try await Task.sleep(for: .milliseconds(25)) }
            }
            #expect(restored)
        }
    }
}
