import Foundation
import Kubernetes
import KubernetesTestServer
import SecretsStoreAPI
import Testing

@Suite struct LeaderEventFaultTests {
    /// Found by the chaos run: a replica waiting for the lease exited on the first API 500; it keeps waiting.
    @Test func waitingForTheLeaseOutlastsAPIServerErrors() async throws {
        try await withCluster { server, client in
            let elector = LeaderElector(client: client, namespace: "default", name: "akvs-wait", identity: "a", retryPeriod: .milliseconds(50))
            await server.setFaults(.init(errorRate: 1))
            let led = Task { try await elector.run { } }
            try await Task.sleep(for: .milliseconds(400))
            await server.setFaults(.init())
            try await led.value
        }
    }

    @Test func onlyOneReplicaLeadsAndTheOtherTakesOverOnRelease() async throws {
        try await withCluster { _, client in
            // A lease long enough that a loaded machine (the parallel test run, CI's 2 cores) cannot let it lapse between
            // two calls; the hand-over below is by release, which does not wait for expiry.
            let a = LeaderElector(client: client, namespace: "default", name: "akvs", identity: "a", leaseDuration: .seconds(15),
                                  renewDeadline: .seconds(10), retryPeriod: .milliseconds(100))
            let b = LeaderElector(client: client, namespace: "default", name: "akvs", identity: "b", leaseDuration: .seconds(15),
                                  renewDeadline: .seconds(10), retryPeriod: .milliseconds(100))
            #expect(try await a.tryAcquireOrRenew())
            #expect(try await !b.tryAcquireOrRenew())
            #expect(try await a.tryAcquireOrRenew())

            let leaders = Leaders()
            let runA = Task { try await a.run { await leaders.enter("a"); try await Task.sleep(for: .milliseconds(300)); await leaders.leave("a") } }
            let runB = Task { try await b.run { await leaders.enter("b"); try await Task.sleep(for: .milliseconds(300)); await leaders.leave("b") } }
            _ = try await runA.value
            _ = try await runB.value
            #expect(await leaders.maxConcurrent == 1)
            #expect(await leaders.order.sorted() == ["a", "b"])
            let lease = try await client.get(Lease.self, name: "akvs")
            #expect(lease.spec?.holderIdentity == "")
        }
    }

    actor Leaders {
        var current = 0, maxConcurrent = 0
        var order: [String] = []
        func enter(_ id: String) { current += 1; maxConcurrent = max(maxConcurrent, current); order.append(id) }
        func leave(_ id: String) { current -= 1 }
    }

    @Test func eventsAggregateIntoASeries() async throws {
        try await withCluster { _, client in
            let owner = try await client.create(secret("subject"))
            let recorder = EventRecorder(client: client, controller: "akvs.io/test", instance: "node-1")
            for _ in 0..<3 {
                await recorder.record(.warning, regarding: ObjectReference(owner), reason: "ProviderError", action: "Sync", note: "vault unreachable")
            }
            await recorder.record(.normal, regarding: ObjectReference(owner), reason: "Synced", action: "Sync", note: "ok")
            let events = try await client.list(Event.self, namespace: "default").items
            #expect(events.count == 2)
            let warning = try #require(events.first { $0.reason == "ProviderError" })
            #expect(warning.series?.count == 3)
            #expect(warning.regarding?.uid == owner.metadata.uid)
            #expect(warning.reportingController == "akvs.io/test")
        }
    }

    /// A fleet's creates (more distinct events than the series memory holds, all within the window) keep the
    /// memory bounded and the trimming rare, and a recent event still aggregates.
    @Test func distinctEventsBeyondTheSeriesCapacityStayBounded() async throws {
        try await withCluster { _, client in
            let owner = try await client.create(secret("fleet"))
            let recorder = EventRecorder(client: client, controller: "akvs.io/test", instance: "node-1")
            for i in 0..<5_000 {
                await recorder.record(.normal, regarding: ObjectReference(owner), reason: "CreateSucceeded", action: "Create", note: "secret \(i)")
            }
            #expect(await recorder.rememberedSeries <= 4096)
            await recorder.record(.normal, regarding: ObjectReference(owner), reason: "CreateSucceeded", action: "Create", note: "secret 4999")
            let events = try await client.list(Event.self, namespace: "default").items
            #expect(events.count == 5_000)
            #expect(events.first { $0.note == "secret 4999" }?.series?.count == 2)
        }
    }

    @Test func throttledRequestsAreRetriedAfterRetryAfter() async throws {
        try await withCluster { server, client in
            await server.setFaults(.init(throttle: .init(count: 2, retryAfterSeconds: 1)))
            let start = ContinuousClock.now
            _ = try await client.list(Secret.self, namespace: "default")
            #expect(ContinuousClock.now - start >= .seconds(2))

            await server.setFaults(.init(errorRate: 1))
            let error = await kubeError { _ = try await client.list(Secret.self, namespace: "default") }
            #expect(error?.code == 500)
            #expect(error?.reason == "InternalError")
            await server.setFaults(.init())
            _ = try await client.list(Secret.self, namespace: "default")
        }
    }
}
