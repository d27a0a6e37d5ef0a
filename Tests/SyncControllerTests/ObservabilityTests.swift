import Foundation
import Kubernetes
import SecretsStoreAPI
import Testing

/// What the controller says about objects before they break: expiry and validity series, last attempt and success,
/// every Key Vault and Entra reply by code, and one Warning per expiring object version and day.
@Suite struct ObservabilityTests {
    static func line(_ text: String, _ name: String, _ labels: [String]) -> String? {
        text.split(separator: "\n").map(String.init).first { line in line.hasPrefix(name + "{") && labels.allSatisfy { line.contains($0) } }
    }

    static func value(_ line: String?) -> Double? { line.flatMap { $0.split(separator: " ").last.flatMap { Double(String($0)) } } }

    @Test func expiryLastSuccessAndRepliesAreMetrics() async throws {
        try await Harness.with(pollInterval: .milliseconds(400), apiExpires: true) { h in
            try await h.createSPC()
            try await h.createSync("app", items: [("api", "token"), ("db", "password")])
            try await h.waitFor("app", "Create", reason: "CreateSucceeded")
            // The outcome is recorded as the reconcile returns, just after its status write.
            let deadline = ContinuousClock.now + .seconds(10)
            while Self.line(h.statistics.render(), "akvs_last_attempt_success", ["name=\"app\""]) == nil, ContinuousClock.now < deadline {
                try await Task.sleep(for: .milliseconds(20))
            }
            let text = h.statistics.render()
            let expires = try #require(ISO8601DateFormatter().date(from: Harness.apiExpiry)).timeIntervalSince1970
            let expiry = try #require(Self.line(text, "akvs_object_expiry_timestamp_seconds",
                                                ["vault=\"sync-kv\"", "namespace=\"apps\"", "secret_provider_class=\"vault\"", "object=\"api\"", "object_type=\"secret\""]), "\(text)")
            #expect(Self.value(expiry) == expires, "\(expiry)")
            // db has no expiry: no series for it.
            #expect(Self.line(text, "akvs_object_expiry_timestamp_seconds", ["object=\"db\""]) == nil)
            #expect(Self.line(text, "akvs_last_success_timestamp_seconds", ["kind=\"SecretSync\"", "namespace=\"apps\"", "name=\"app\""]) != nil, "\(text)")
            #expect(Self.value(Self.line(text, "akvs_last_attempt_success", ["kind=\"SecretSync\"", "name=\"app\""])) == 1)
            #expect(Self.line(text, "akvs_keyvault_responses_total", ["vault=\"sync-kv\"", "code=\"2xx\"", "error=\"\""]) != nil, "\(text)")
            #expect(Self.line(text, "akvs_entra_responses_total", ["code=\"2xx\"", "aadsts=\"\""]) != nil, "\(text)")
            #expect(!text.contains("api-v1") && !text.contains("db-v1"), "no value in metrics")
        }
    }

    @Test func anExpiringObjectGetsOneWarningPerVersionAndDay() async throws {
        try await Harness.with(pollInterval: .milliseconds(300), apiExpires: true) { h in
            try await h.createSPC()
            try await h.createSync("app", items: [("api", "token")])
            try await h.waitFor("app", "Create", reason: "CreateSucceeded")
            // Several polls later there is still one Warning.
            let polls = h.statistics
            let before = await polls.reconciles
            let deadline = ContinuousClock.now + .seconds(30)
            while await polls.reconciles < before + 4, ContinuousClock.now < deadline { try await Task.sleep(for: .milliseconds(50)) }
            #expect(await polls.reconciles >= before + 4, "the SecretSync was polled again")
            let warnings = try await h.client.list(Event.self, namespace: "apps").items.filter { $0.reason == "ObjectExpiring" && $0.regarding?.name == "app" }
            #expect(warnings.count == 1, "\(warnings.map(\.note))")
            #expect(warnings.first?.type == "Warning")
            let note = warnings.first?.note ?? ""
            #expect(note.hasPrefix("secret/api version ") && note.contains("in Key Vault sync-kv expires at \(Harness.apiExpiry) (in 9 days): renew or rotate it there"), "\(note)")
            #expect(!note.contains("api-v1"))
            #expect((warnings.first?.series?.count ?? 1) == 1)
        }
    }
}
