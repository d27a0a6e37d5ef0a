import AzureProvider
import Foundation
import Prometheus
import Testing

/// The vault metrics' labels stay bounded whatever a reply says, and validity series go when their object does.
@Suite struct VaultMetricsTests {
    @Test func statusesAreReducedToTheCodesThatTellDifferentStories() {
        let metrics = VaultMetrics()
        for status in [200, 204, 401, 403, 404, 409, 429, 400, 418, 500, 503] { metrics.keyVaultReply(vault: "kv", status: status, error: "") }
        metrics.keyVaultReply(vault: "kv", status: nil, error: "")
        let text = metrics.render()
        for code in ["2xx", "401", "403", "404", "409", "429", "4xx", "5xx", "network"] {
            #expect(text.contains("akvs_keyvault_responses_total{vault=\"kv\",code=\"\(code)\",error=\"\"}"), "\(code)")
        }
        #expect(!text.contains("code=\"418\"") && !text.contains("code=\"503\""))
    }

    @Test func errorCodesFromAHostileReplyCannotCarryTextOrGrow() {
        let metrics = VaultMetrics()
        metrics.keyVaultReply(vault: "kv", status: 404, error: "SecretNotFound")
        metrics.keyVaultReply(vault: "kv", status: 400, error: "not a code\"} injected 1")
        metrics.keyVaultReply(vault: "kv", status: 400, error: String(repeating: "A", count: 200))
        metrics.entraReply(tenant: "t", status: 400, aadsts: "AADSTS700016")
        metrics.entraReply(tenant: "t", status: 400, aadsts: "AADSTS70001 6 secret")
        let text = metrics.render()
        #expect(text.contains("error=\"SecretNotFound\""))
        #expect(text.contains("akvs_keyvault_responses_total{vault=\"kv\",code=\"4xx\",error=\"other\"} 2"))
        #expect(text.contains("aadsts=\"AADSTS700016\""))
        #expect(text.contains("akvs_entra_responses_total{tenant=\"t\",code=\"4xx\",aadsts=\"\"} 1"))
        #expect(!text.contains("injected") && !text.contains("secret\""))
    }

    @Test func validitySeriesAreSetAndGoWhenNotRefreshed() async throws {
        let metrics = VaultMetrics(retention: .milliseconds(200))
        let old = ObjectLabels(vault: "kv", namespace: "apps", secretProviderClass: "vault", objectType: "secret", objectName: "old")
        let kept = ObjectLabels(vault: "kv", namespace: "apps", secretProviderClass: "vault", objectType: "cert", objectName: "tls")
        metrics.objectValidity(old, ObjectValidity(notBefore: Date(timeIntervalSince1970: 1000), expires: Date(timeIntervalSince1970: 2000)))
        #expect(metrics.render().contains("akvs_object_expiry_timestamp_seconds{vault=\"kv\",namespace=\"apps\",secret_provider_class=\"vault\",object=\"old\",object_type=\"secret\"} 2000"))
        #expect(metrics.render().contains("akvs_object_not_before_timestamp_seconds{vault=\"kv\",namespace=\"apps\",secret_provider_class=\"vault\",object=\"old\",object_type=\"secret\"} 1000"))
        try await Task.sleep(for: .milliseconds(300))
        metrics.objectValidity(kept, ObjectValidity(expires: Date(timeIntervalSince1970: 3000)))
        let text = metrics.render()
        #expect(!text.contains("object=\"old\""), "\(text)")
        #expect(text.contains("object=\"tls\""))
    }
}
