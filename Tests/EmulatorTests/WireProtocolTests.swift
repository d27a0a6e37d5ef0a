import AzureIdentity
import Emulator
import EmulatorTestSupport
import Foundation
import KeyVault
import NIOHTTP1
import Testing

/// Raw HTTP checks of what the Azure SDKs rely on (reference: azure-protocols.md checklist).
@Suite struct WireProtocolTests {
    func raw(_ f: EmulatorFixture, _ method: HTTPMethod, _ path: String, vault: String = "test-kv", token: String? = nil,
             body: Data? = nil, headers extra: [(String, String)] = []) async throws -> HTTPExchangeResponse {
        var headers = HTTPHeaders(extra)
        if let token { headers.add(name: "Authorization", value: "Bearer \(token)") }
        let url = URL(string: "https://\(vault).vault.localhost:\(f.emulator.port)\(path)")!
        return try await f.session.transport.send(method: method, url: url, headers: headers, body: body, connectAddress: f.cloud.connectAddress)
    }

    func token(_ f: EmulatorFixture) async throws -> String {
        try await f.session.tokens.token(for: f.secretCredential(), scope: f.cloud.keyVaultScope).token
    }

    func json(_ r: HTTPExchangeResponse) -> [String: Any] {
        (try? JSONSerialization.jsonObject(with: r.body)) as? [String: Any] ?? [:]
    }

    @Test func unauthenticatedRequestsGetTheChallenge() async throws {
        try await EmulatorFixture.with { f in
            let r = try await raw(f, .GET, "/secrets/plain/?api-version=7.5")
            #expect(r.status == 401)
            let challenge = try #require(r.headers.first(name: "WWW-Authenticate"))
            #expect(challenge == "Bearer authorization=\"https://localhost:\(f.emulator.port)/\(EmulatorFixture.tenant)\", resource=\"https://vault.localhost:\(f.emulator.port)\"")
            let error = json(r)["error"] as? [String: Any]
            #expect(error?["code"] as? String == "Unauthorized")
            #expect((error?["message"] as? String)?.hasPrefix("AKV10000") == true)
            // The SDK's bodiless probe of a write gets 401, not 400.
            let probe = try await raw(f, .PUT, "/secrets/new?api-version=7.5", headers: [("Content-Type", "application/json"), ("Content-Length", "0")])
            #expect(probe.status == 401 && probe.headers.first(name: "WWW-Authenticate") != nil)
            let bad = try await raw(f, .GET, "/secrets/plain?api-version=7.5", token: "not.a.jwt")
            #expect(bad.status == 401 && bad.headers.first(name: "WWW-Authenticate") != nil)
        }
    }

    @Test func latestWithAndWithoutTrailingSlashAndAPIVersions() async throws {
        try await EmulatorFixture.with { f in
            let t = try await token(f)
            let a = try await raw(f, .GET, "/secrets/plain?api-version=7.5", token: t)
            let b = try await raw(f, .GET, "/secrets/plain/?api-version=2026-04-01", token: t)
            #expect(a.status == 200 && b.status == 200)
            #expect(json(a)["id"] as? String == json(b)["id"] as? String)
            #expect(json(a)["managed"] == nil && json(a)["kid"] == nil)
            let attributes = json(a)["attributes"] as? [String: Any]
            #expect(attributes?["created"] is Int && attributes?["recoveryLevel"] as? String == "Recoverable+Purgeable")
            let missing = try await raw(f, .GET, "/secrets/plain", token: t)
            #expect(missing.status == 400 && (json(missing)["error"] as? [String: Any])?["code"] as? String == "BadParameter")
            let unknown = try await raw(f, .GET, "/secrets/plain?api-version=1999-01-01", token: t)
            #expect(unknown.status == 400)
        }
    }

    @Test func pagingUsesHostPortOnceAndNeverListsValues() async throws {
        try await EmulatorFixture.with { f in
            let t = try await token(f)
            let first = try await raw(f, .GET, "/secrets/rotating/versions?api-version=7.5&maxresults=2", token: t)
            let body = json(first)
            let items = try #require(body["value"] as? [[String: Any]])
            #expect(items.count == 2 && items.allSatisfy { $0["value"] == nil && $0["id"] != nil })
            let next = try #require(body["nextLink"] as? String)
            #expect(next.hasPrefix("https://test-kv.vault.localhost:\(f.emulator.port)/secrets/rotating/versions?"))
            #expect(next.contains("$skiptoken=2") && next.contains("api-version=7.5") && !next.contains(":443"))
            let path = String(next.dropFirst("https://test-kv.vault.localhost:\(f.emulator.port)".count))
            let last = json(try await raw(f, .GET, path, token: t))
            #expect((last["value"] as? [Any])?.count == 1 && last["nextLink"] == nil)
            let tooMany = try await raw(f, .GET, "/secrets/rotating/versions?api-version=7.5&maxresults=26", token: t)
            #expect(tooMany.status == 400)
        }
    }

    @Test func outContentTypeConvertsCertificateSecrets() async throws {
        try await EmulatorFixture.with { f in
            let t = try await token(f)
            let r = try await raw(f, .GET, "/secrets/tls-pfx/?outContentType=application%2Fx-pem-file&api-version=2025-07-01", token: t)
            #expect(r.status == 200 && json(r)["contentType"] as? String == "application/x-pem-file")
            #expect((json(r)["value"] as? String)?.hasPrefix("-----BEGIN PRIVATE KEY-----") == true)
            let plain = try await raw(f, .GET, "/secrets/plain/?outContentType=application%2Fx-pem-file&api-version=2025-07-01", token: t)
            #expect(plain.status == 400)
        }
    }

    @Test func entraMetadataAndErrors() async throws {
        try await EmulatorFixture.with { f in
            let base = f.emulator.credentials.authorityHost
            let config = try await f.session.transport.send(method: .GET, url: URL(string: "\(base)/\(EmulatorFixture.tenant)/v2.0/.well-known/openid-configuration")!)
            let c = json(config)
            #expect(c["token_endpoint"] as? String == "\(base)/\(EmulatorFixture.tenant)/oauth2/v2.0/token")
            #expect(c["issuer"] as? String != nil && c["authorization_endpoint"] as? String != nil)
            let form = FormEncoding.encode([("client_id", EmulatorFixture.readerID), ("grant_type", "client_credentials"), ("client_secret", EmulatorFixture.readerSecret),
                                            ("scope", "https://vault.azure.net/.default"), ("claims", #"{"access_token":{"xms_cc":{"values":["CP1"]}}}"#), ("client_info", "1")])
            var headers = HTTPHeaders()
            headers.add(name: "Content-Type", value: "application/x-www-form-urlencoded")
            let wrongResource = try await f.session.transport.send(method: .POST, url: URL(string: "\(base)/\(EmulatorFixture.tenant)/oauth2/v2.0/token")!, headers: headers, body: Data(form.utf8))
            #expect(wrongResource.status == 400)
            #expect((json(wrongResource)["error_description"] as? String)?.hasPrefix("AADSTS500011") == true)
            #expect(json(wrongResource)["error_codes"] as? [Int] == [500011])
            let discovery = try await f.session.transport.send(method: .GET, url: URL(string: "\(base)/common/discovery/instance?api-version=1.0")!)
            #expect(json(discovery)["tenant_discovery_endpoint"] != nil)
        }
    }

    @Test func imdsRequiresMetadataHeaderAndAnswersStrings() async throws {
        try await EmulatorFixture.with { f in
            let url = URL(string: "\(f.emulator.credentials.imdsEndpoint)/metadata/identity/oauth2/token?api-version=2018-02-01&resource=\(f.cloud.keyVaultResource)")!
            let noHeader = try await f.session.transport.send(method: .GET, url: url)
            #expect(noHeader.status == 400)
            let ok = try await f.session.transport.send(method: .GET, url: url, headers: ["Metadata": "true"])
            #expect(ok.status == 200)
            let body = json(ok)
            #expect(body["expires_in"] is String && body["expires_on"] is String && body["access_token"] is String)
            #expect(body["client_id"] as? String == "44444444-4444-4444-8444-444444444444")
        }
    }

    @Test func countersAreExact() async throws {
        try await EmulatorFixture.with { f in
            let client = try await f.client()
            _ = try await client.getSecret("plain")
            try await f.admin.resetCounters()
            _ = try await client.getSecret("plain")
            _ = try await client.getSecret("plain")
            _ = try? await client.getSecret("missing")
            let counts = try #require(try await f.admin.counters().vaults["test-kv"])
            #expect(counts.byObject["secrets/plain"] == 2 && counts.byObject["secrets/missing"] == 1)
            #expect(counts.byStatus == ["200": 2, "404": 1])
            #expect(try await f.admin.counters().token.total == 0)
        }
    }

    @Test func faultsInjectErrorsAndLatency() async throws {
        try await EmulatorFixture.with { f in
            let t = try await token(f)
            try await f.admin.setFaults(FaultSettings(errorRate: 1), vault: "test-kv")
            #expect(try await raw(f, .GET, "/secrets/plain?api-version=7.5", token: t).status == 500)
            try await f.admin.setFaults(FaultSettings(latencyMs: 100), vault: "test-kv")
            let start = ContinuousClock.now
            #expect(try await raw(f, .GET, "/secrets/plain?api-version=7.5", token: t).status == 200)
            #expect(ContinuousClock.now - start >= .milliseconds(100))
            await #expect(throws: (any Error).self) { try await f.admin.setFaults(FaultSettings(errorRate: 2), vault: "test-kv") }
        }
    }

    @Test func tokenEndpointFaultsAnswer503UntilCleared() async throws {
        try await EmulatorFixture.with { f in
            try await f.admin.setTokenFaults(TokenFaultSettings(outage: true))
            await #expect(throws: (any Error).self) { _ = try await token(f) }
            let failed = try await f.admin.counters().token
            #expect(failed.byStatus["503"] ?? 0 >= 1)
            try await f.admin.setTokenFaults(TokenFaultSettings())
            #expect(try await !token(f).isEmpty)
            await #expect(throws: (any Error).self) { try await f.admin.setTokenFaults(TokenFaultSettings(errorRate: -1)) }
        }
    }
}

@Suite struct EmulatorWriteTests {
    let wire = WireProtocolTests()

    @Test func importsPEMCertificatesAsPEMOrPFX() async throws {
        try await EmulatorFixture.with { f in
            let adminToken = try await f.session.tokens.token(for: f.adminCredential(), scope: f.cloud.keyVaultScope).token
            let pem = try #require(try await f.client().getSecret("tls-pem").value)
            for (name, contentType) in [("imported-pem", "application/x-pem-file"), ("imported-pfx", "application/x-pkcs12")] {
                let body = try JSONSerialization.data(withJSONObject: ["value": pem, "policy": ["secret_props": ["contentType": contentType]]])
                let r = try await wire.raw(f, .POST, "/certificates/\(name)/import?api-version=7.5", token: adminToken, body: body, headers: [("Content-Type", "application/json")])
                #expect(r.status == 200)
                let secret = try await f.client(credential: f.adminCredential()).getSecret(name)
                #expect(secret.contentType == contentType && secret.kid != nil)
            }
            let imported = try await f.client(credential: f.adminCredential()).getSecret("imported-pem")
            #expect(imported.value == pem)
            // A PFX (as Key Vault's own export) imports too, and round-trips to the same certificate.
            let pfx = try #require(try await f.client().getSecret("tls-pfx").value)
            let pfxBody = try JSONSerialization.data(withJSONObject: ["value": pfx, "pwd": ""])
            let r = try await wire.raw(f, .POST, "/certificates/from-pfx/import?api-version=7.5", token: adminToken, body: pfxBody, headers: [("Content-Type", "application/json")])
            #expect(r.status == 200)
            let original = try await f.client().getCertificate("tls-pfx")
            #expect(try await f.client(credential: f.adminCredential()).getCertificate("from-pfx").cer == original.cer)
            let garbage = try JSONSerialization.data(withJSONObject: ["value": "-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n"])
            let bad = try await wire.raw(f, .POST, "/certificates/bad/import?api-version=7.5", token: adminToken, body: garbage, headers: [("Content-Type", "application/json")])
            #expect(bad.status == 400)
        }
    }

    @Test func writeLimitThrottlesWritesButNotReads() async throws {
        try await EmulatorFixture.with { f in
            let adminToken = try await f.session.tokens.token(for: f.adminCredential(), scope: f.cloud.keyVaultScope).token
            try await f.admin.setFaults(FaultSettings(throttle: .init(limit: 100, writeLimit: 1, windowSeconds: 30)), vault: "test-kv")
            let body = Data(#"{"value":"v"}"#.utf8)
            let first = try await wire.raw(f, .PUT, "/secrets/w?api-version=7.5", token: adminToken, body: body, headers: [("Content-Type", "application/json")])
            let second = try await wire.raw(f, .PUT, "/secrets/w?api-version=7.5", token: adminToken, body: body, headers: [("Content-Type", "application/json")])
            #expect(first.status == 200 && second.status == 429)
            let retryAfter = Int(second.headers.first(name: "Retry-After") ?? "") ?? 0
            #expect((1...30).contains(retryAfter))
            #expect((wire.json(second)["error"] as? [String: Any])?["code"] as? String == "Throttled")
            #expect(try await wire.raw(f, .GET, "/secrets/w?api-version=7.5", token: adminToken).status == 200)
        }
    }

    @Test func echoesClientRequestIDAndSetsServiceHeaders() async throws {
        try await EmulatorFixture.with { f in
            let r = try await wire.raw(f, .GET, "/secrets/plain?api-version=7.5", headers: [("x-ms-client-request-id", "abc-123")])
            #expect(r.headers.first(name: "x-ms-client-request-id") == "abc-123")
            #expect(r.headers.first(name: "x-ms-request-id") != nil)
        }
    }
}
