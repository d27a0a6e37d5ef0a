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
            let runA = Task { try await electorA.run { await a.run() } }
            try await Task.sleep(for: .milliseconds(300))
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
