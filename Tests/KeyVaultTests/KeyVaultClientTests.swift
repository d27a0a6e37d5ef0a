import AzureIdentity
import Emulator
import EmulatorTestSupport
import Foundation
import KeyVault
import Testing

@Suite struct KeyVaultClientTests {
    @Test func getsSecretsByLatestAndVersion() async throws {
        try await EmulatorFixture.with { f in
            let client = try await f.client()
            let latest = try await client.getSecret("rotating")
            #expect(latest.value == "r3")
            let versions = try await client.listVersions(.secret, name: "rotating", pageSize: 1)
            #expect(versions.count == 3)
            #expect(versions.allSatisfy { $0.id?.hasPrefix(f.emulator.vaultURL("test-kv").absoluteString + "secrets/rotating/") == true })
            let first = try #require(versions.first?.id?.keyVaultVersion)
            #expect(first.count == 32)
            #expect(try await client.getSecret("rotating", version: first).value == "r1")
            let plain = try await client.getSecret("plain")
            #expect(plain.contentType == "text/plain" && plain.tags == ["k": "v"] && plain.attributes?.enabled == true)
        }
    }

    @Test func notFoundDisabledAndForbiddenCarryCodeAndHint() async throws {
        try await EmulatorFixture.with { f in
            let client = try await f.client()
            let missing = await #expect(throws: KeyVaultError.self) { try await client.getSecret("nope") }
            #expect(missing?.status == 404 && missing?.code == "SecretNotFound")
            #expect(missing?.description.contains("check objectName") == true)
            let disabled = await #expect(throws: KeyVaultError.self) { try await client.getSecret("disabled") }
            #expect(disabled?.status == 403 && disabled?.code == "SecretDisabled")
            #expect(disabled?.description.contains("hidden") == false)
            let outsider = try await f.client(credential: f.secretCredential(clientID: EmulatorFixture.outsiderID, secret: EmulatorFixture.outsiderSecret))
            let forbidden = await #expect(throws: KeyVaultError.self) { try await outsider.getSecret("plain") }
            #expect(forbidden?.status == 403 && forbidden?.code == "ForbiddenByRbac")
            #expect(forbidden?.description.contains("grant the identity read access") == true)
            let reader = try await f.client()
            let write = await #expect(throws: KeyVaultError.self) { try await reader.setSecret("plain", value: "nope") }
            #expect(write?.status == 403)
        }
    }

    @Test func inputIsValidatedBeforeAnyRequest() async throws {
        try await EmulatorFixture.with { f in
            try await f.admin.resetCounters()
            let client = try await f.client()
            for bad in ["", "has/slash", "..", "with space", String(repeating: "a", count: 128)] {
                let error = await #expect(throws: KeyVaultError.self) { try await client.getSecret(bad) }
                #expect(error?.description.contains("objectName") == true)
            }
            await #expect(throws: KeyVaultError.self) { try await client.getSecret("plain", version: "not-a-version") }
            for badVault in ["ab", "-kv", "kv-", "k--v", "a_b", String(repeating: "k", count: 25)] {
                await #expect(throws: KeyVaultError.self) { try await f.session.client(vault: badVault, cloud: f.cloud, credential: f.secretCredential()) }
            }
            #expect(try await f.admin.counters().vaults["test-kv"] == nil)
        }
    }

    @Test func anOversizeReplyIsRefusedNamingTheLimit() async throws {
        try await EmulatorFixture.with { f in
            let admin = try await f.client(credential: f.adminCredential())
            _ = try await admin.setSecret("big", value: String(repeating: "x", count: 8192))
            var small = f.session.transport
            small.maxBodyBytes = 4096
            let client = try await KeyVaultSession(transport: small, retry: .none).client(vault: "test-kv", cloud: f.cloud, credential: f.secretCredential())
            let error = await #expect(throws: KeyVaultError.self) { try await client.getSecret("big") }
            #expect(error?.description.contains("the reply is larger than the 4096-byte limit for one reply") == true, "\(String(describing: error))")
        }
    }

    @Test func keysAsJWK() async throws {
        try await EmulatorFixture.with { f in
            let client = try await f.client()
            let rsa = try await client.getKey("rsa")
            #expect(rsa.key.kty == "RSA")
            #expect(rsa.key.n.flatMap(Base64URL.decode)?.count == 256)
            #expect(rsa.key.e.flatMap(Base64URL.decode) == Data([1, 0, 1]))
            let ec = try await client.getKey("ec")
            #expect(ec.key.kty == "EC" && ec.key.crv == "P-256")
            #expect(ec.key.x.flatMap(Base64URL.decode)?.count == 32 && ec.key.y.flatMap(Base64URL.decode)?.count == 32)
        }
    }

    @Test func certificatesAndTheirSecrets() async throws {
        try await EmulatorFixture.with { f in
            let client = try await f.client()
            let cert = try await client.getCertificate("tls-pfx")
            let version = try #require(cert.id?.keyVaultVersion)
            #expect(cert.sid?.hasSuffix("/secrets/tls-pfx/\(version)") == true)
            #expect(cert.kid?.hasSuffix("/keys/tls-pfx/\(version)") == true)
            #expect(cert.cer.flatMap { Data(base64Encoded: $0) } != nil)
            #expect(cert.x5t.flatMap(Base64URL.decode)?.count == 20)
            let pfx = try await client.getSecret("tls-pfx")
            #expect(pfx.contentType == "application/x-pkcs12" && pfx.managed == true && pfx.kid == cert.kid)
            #expect(pfx.value.flatMap { Data(base64Encoded: $0) }?.first == 0x30)
            let pem = try await client.getSecret("tls-pem")
            #expect(pem.contentType == "application/x-pem-file")
            #expect(pem.value?.hasPrefix("-----BEGIN PRIVATE KEY-----") == true)
            #expect(pem.value?.contains("-----BEGIN CERTIFICATE-----") == true)
            let certVersions = try await client.listVersions(.certificate, name: "tls-pfx")
            #expect(certVersions.count == 1 && certVersions[0].x5t == cert.x5t)
        }
    }

    @Test func writesCreateVersionsAndDisableWorks() async throws {
        try await EmulatorFixture.with { f in
            let admin = try await f.client(credential: f.adminCredential())
            let created = try await admin.setSecret("fresh", value: "v1", contentType: "text/plain", tags: ["a": "b"])
            let second = try await admin.setSecret("fresh", value: "v2")
            #expect(created.id != second.id)
            #expect(second.previousVersion == created.id?.keyVaultVersion)
            let disabled = try await admin.updateSecret("fresh", version: try #require(second.id?.keyVaultVersion), enabled: false)
            #expect(disabled.attributes?.enabled == false)
            let error = await #expect(throws: KeyVaultError.self) { try await admin.getSecret("fresh") }
            #expect(error?.code == "SecretDisabled")
            #expect(try await admin.getSecret("fresh", version: try #require(created.id?.keyVaultVersion)).value == "v1")
        }
    }

    @Test func throttlingIsRetriedHonouringRetryAfter() async throws {
        try await EmulatorFixture.with { f in
            let client = try await f.client()
            _ = try await client.getSecret("plain")
            // A 2 s window: four GETs fall into one even when a loaded machine slows each.
            try await f.admin.setFaults(FaultSettings(throttle: .init(limit: 2, windowSeconds: 2)), vault: "test-kv")
            try await f.admin.resetCounters()
            let start = ContinuousClock.now
            for _ in 0..<4 { #expect(try await client.getSecret("plain").value == "plain-value-1") }
            let counts = try #require(try await f.admin.counters().vaults["test-kv"])
            #expect(counts.byStatus["200"] == 4)
            #expect((counts.byStatus["429"] ?? 0) >= 1)
            #expect(ContinuousClock.now - start >= .milliseconds(900))
        }
    }

    @Test func outageFailsAfterBoundedRetriesAndIsTransient() async throws {
        try await EmulatorFixture.with { f in
            let client = try await f.client()
            _ = try await client.getSecret("plain")
            try await f.admin.setFaults(FaultSettings(outage: true), vault: "test-kv")
            try await f.admin.resetCounters()
            let error = await #expect(throws: KeyVaultError.self) { try await client.getSecret("plain") }
            #expect(error?.status == 503 && error?.isTransient == true)
            #expect(try await f.admin.counters().vaults["test-kv"]?.total == f.session.retry.maxAttempts)
            try await f.admin.setFaults(FaultSettings(), vault: "test-kv")
            #expect(try await client.getSecret("plain").value == "plain-value-1")
        }
    }

    @Test func perVaultConcurrencyIsBounded() async throws {
        try await EmulatorFixture.with { f in
            try await f.admin.setFaults(FaultSettings(latencyMs: 50), vault: "test-kv")
            let limiter = ConcurrencyLimiter(limit: 4)
            let client = try KeyVaultClient(vaultURL: f.emulator.vaultURL("test-kv"), cloud: f.cloud, credential: f.secretCredential(),
                                            tokens: f.session.tokens, transport: f.session.transport, limiter: limiter)
            _ = try await client.getSecret("plain")
            let start = ContinuousClock.now
            try await withThrowingTaskGroup(of: Void.self) { group in
                for _ in 0..<16 { group.addTask { _ = try await client.getSecret("plain") } }
                try await group.waitForAll()
            }
            // 16 requests of 50 ms through 4 slots take at least 4 rounds.
            #expect(ContinuousClock.now - start >= .milliseconds(195))
            #expect(await limiter.inUse == 0)
        }
    }
}
