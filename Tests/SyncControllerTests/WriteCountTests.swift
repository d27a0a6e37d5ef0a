import Foundation
import Kubernetes
import KubernetesTestServer
import SecretsStoreAPI
import StructuredJSON
import SyncController
import Testing

/// The requests the controller sends, counted by the test server: only the necessary writes, none expected to fail.
@Suite(.serialized) struct WriteCountTests {
    /// Requests since the last reset, without the leader lease, TokenRequests and reads (GET, LIST, WATCH).
    static func writes(_ h: Harness) async -> [(verb: String, resource: String, code: Int, count: Int)] {
        let all = await h.server.requests(reset: true).arrayValue ?? []
        return all.compactMap { entry in
            guard let verb = entry["verb"]?.stringValue, let resource = entry["resource"]?.stringValue,
                  let code = entry["code"]?.numberValue, let count = entry["count"]?.numberValue else { return nil }
            return (verb, resource, Int(code), Int(count))
        }.filter { !["GET", "WATCH"].contains($0.verb) && $0.resource != "leases" && $0.resource != "serviceaccounts/token" }
    }

    static func failed(_ h: Harness) async -> [String] {
        (await h.server.requests().arrayValue ?? []).filter { ($0["code"]?.numberValue ?? 0) >= 400 }.map { "\($0)" }
    }

    /// Waits until the controller's Event for `name` with `reason` exists (Events are written after the status).
    static func waitForEvent(_ h: Harness, _ name: String, _ reason: String) async throws {
        let deadline = ContinuousClock.now + .seconds(5)
        while ContinuousClock.now < deadline {
            if try await h.client.list(Event.self, namespace: "apps").items.contains(where: { $0.regarding?.name == name && $0.reason == reason }) { return }
            try await Task.sleep(for: .milliseconds(25))
        }
    }

    @Test func aNewSyncCostsOneSecretCreateOneStatusWriteAndOneEventAndNoFailedRequest() async throws {
        try await Harness.with(pollInterval: .seconds(3600)) { h in
            try await h.createSPC()
            // A first SecretSync warms the controller (informers synced, token cached).
            try await h.createSync("warm", items: [("db", "password")])
            try await h.waitFor("warm", "Create", reason: "CreateSucceeded")
            try await Self.waitForEvent(h, "warm", "CreateSucceeded")
            _ = await h.server.requests(reset: true)

            try await h.createSync("fresh", items: [("db", "password"), ("api", "token")])
            try await h.waitFor("fresh", "Create", reason: "CreateSucceeded")
            try await Self.waitForEvent(h, "fresh", "CreateSucceeded")
            try await Task.sleep(for: .milliseconds(300))
            let failures = await Self.failed(h)
            #expect(failures.isEmpty, "no request is answered with an error: \(failures)")
            let writes = await Self.writes(h).filter { $0.resource != "secretsyncs" }  // the test's own create
            #expect(writes.map { "\($0.verb) \($0.resource) \($0.code) ×\($0.count)" }.sorted()
                    == ["POST events 201 ×1", "POST secrets 201 ×1", "PUT secretsyncs/status 200 ×1"], "\(writes)")
            #expect(await h.secretValue("fresh", "token") == "api-v1")
        }
    }

    @Test func aChangedValueCostsTwoWritesAndAnUnchangedPollNone() async throws {
        try await Harness.with(pollInterval: .milliseconds(400)) { h in
            try await h.createSPC()
            try await h.createSync("rot", items: [("db", "password"), ("api", "token")])
            try await h.waitFor("rot", "Create", reason: "CreateSucceeded")
            try await Self.waitForEvent(h, "rot", "CreateSucceeded")

            // Unchanged polls: nothing written.
            _ = await h.server.requests(reset: true)
            let reconciles = await h.statistics.reconciles
            while await h.statistics.reconciles < reconciles + 2 { try await Task.sleep(for: .milliseconds(25)) }
            #expect(await Self.writes(h).isEmpty)

            // A changed value after the create: one Secret patch (no conflict with the create) and one status write.
            _ = try await h.vaultAdmin().setSecret("db", value: "db-v2")
            try await h.waitFor("rot", "Update", reason: "UpdateValueChangeOrForceUpdateSucceeded")
            try await Task.sleep(for: .milliseconds(300))
            let failures = await Self.failed(h)
            #expect(failures.isEmpty, "\(failures)")
            let writes = await Self.writes(h)
            #expect(writes.map { "\($0.verb) \($0.resource) \($0.code) ×\($0.count)" }.sorted() == ["PATCH secrets 200 ×1", "PUT secretsyncs/status 200 ×1"], "\(writes)")
            #expect(await h.secretValue("rot", "password") == "db-v2")

            // An item dropped from the spec leaves the Secret (the create's fields are not stranded with another manager).
            var sync = try await h.sync("rot")
            sync.spec.secretObject.data = [.init(sourcePath: "db", targetKey: "password")]
            sync.spec.secretObject.labels = ["team": "b"]
            _ = try await h.client.update(sync)
            let deadline = ContinuousClock.now + .seconds(10)
            while await h.secretValue("rot", "token") != nil, ContinuousClock.now < deadline { try await Task.sleep(for: .milliseconds(25)) }
            let secret = try await h.client.get(Secret.self, name: "rot", namespace: "apps")
            #expect(secret.data?.keys.sorted() == ["password"])
            #expect(secret.metadata.labels == ["secrets-store.sync.x-k8s.io": "", "team": "b"])
            #expect(secret.metadata.ownerReferences?.first?.uid == sync.metadata.uid)
            #expect(await Self.failed(h).isEmpty)
        }
    }

    @Test func aSecretSomeoneElseMadeIsNeverTouched() async throws {
        try await Harness.with { h in
            try await h.createSPC()
            // Same value and no owner: a server-side apply would adopt it without a conflict; akvs must not.
            let foreign: JSONValue = ["apiVersion": "v1", "kind": "Secret", "metadata": ["name": "taken", "namespace": "apps", "labels": ["app": "other"]],
                                      "data": ["password": .string(Data("db-v1".utf8).base64EncodedString())]]
            let before = try await h.client.apply(Secret.self, name: "taken", namespace: "apps", configuration: foreign, fieldManager: "someone")
            try await h.createSync("taken", items: [("db", "password")])
            let failed = try await h.waitFor("taken", "Create", reason: "InvalidClusterSecretLabelError")
            #expect(failed.status?.conditions?.first?.message.contains("not owned by this SecretSync") == true)
            let after = try await h.client.get(Secret.self, name: "taken", namespace: "apps")
            #expect(after.metadata.resourceVersion == before.metadata.resourceVersion, "not written at all")
            #expect(after.metadata.ownerReferences == nil && after.metadata.labels == ["app": "other"])
        }
    }

    @Test func aRestartedControllerRewritesItsOwnSecretWithOnePatch() async throws {
        try await Harness.with(startController: false) { h in
            try await h.createSPC()
            try await h.createSync("again", items: [("db", "password")])
            let first = SyncStatistics()
            let one = Task { await h.controller(statistics: first).run() }
            try await h.waitFor("again", "Create", reason: "CreateSucceeded")
            one.cancel(); _ = await one.value

            // A new controller (nothing in memory) and a changed value: one patch, its ownership test inside it.
            _ = try await h.vaultAdmin().setSecret("db", value: "db-v2")
            var sync = try await h.sync("again")
            sync.spec.forceSynchronization = "after-restart"
            _ = try await h.client.update(sync)
            _ = await h.server.requests(reset: true)
            let second = Task { await h.controller(statistics: SyncStatistics()).run() }
            try await h.waitFor("again", "Update", reason: "UpdateValueChangeOrForceUpdateSucceeded")
            second.cancel(); _ = await second.value
            #expect(await h.secretValue("again", "password") == "db-v2")
            let secretWrites = await Self.writes(h).filter { $0.resource == "secrets" }
            #expect(secretWrites.map { "\($0.verb) \($0.code) ×\($0.count)" } == ["PATCH 200 ×1"], "\(secretWrites)")
        }
    }
}
