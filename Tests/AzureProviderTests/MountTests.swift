import AtomicWriter
import AzureIdentity
import AzureProvider
import Emulator
import EmulatorTestSupport
import Foundation
import KeyVault
import SecretsStoreAPI
import Testing

@Suite struct MountTests {
    static let readerSecrets = ["clientid": EmulatorFixture.readerID, "clientsecret": EmulatorFixture.readerSecret]

    func attributes(_ f: EmulatorFixture, _ objects: [String], extra: [String: String] = [:]) -> [String: String] {
        var a: [String: String] = [
            "keyvaultName": "test-kv", "tenantId": EmulatorFixture.tenant, "cloudName": "AzureStackCloud",
            "cloudEnvFileName": f.emulator.credentials.cloudEnvFile,
            "csi.storage.k8s.io/pod.name": "web-0", "csi.storage.k8s.io/pod.namespace": "apps",
            "objects": "array:\n" + objects.map { "  - |\n" + $0.split(separator: "\n").map { "    " + $0 }.joined(separator: "\n") + "\n" }.joined(),
        ]
        a.merge(extra) { $1 }
        return a
    }

    func provider(_ f: EmulatorFixture, ttl: Duration = .seconds(60)) -> AzureProvider {
        var config = ProviderConfiguration(objectCacheTTL: ttl)
        config.imdsEndpoint = f.emulator.imdsURL
        return AzureProvider(session: f.session, configuration: config)
    }

    @Test func mountsEveryObjectTypeInItsFormat() async throws {
        try await EmulatorFixture.with { f in
            let result = try await provider(f).mount(attributes: attributes(f, [
                "objectName: plain\nobjectType: secret\nfilePermission: \"0600\"",
                "objectName: rsa\nobjectType: key",
                "objectName: ec\nobjectType: key",
                "objectName: tls-pfx\nobjectType: cert\nobjectAlias: tls.crt",
                "objectName: tls-pfx\nobjectType: secret\nobjectAlias: tls.pem",
                "objectName: tls-pfx\nobjectType: secret\nobjectFormat: pfx\nobjectEncoding: base64\nobjectAlias: tls.pfx",
                "objectName: tls-pfx\nobjectType: secret\nobjectFormat: pfx\nobjectAlias: tls.pfx.b64",
                "objectName: tls-pem\nobjectType: secret",
            ]), secrets: Self.readerSecrets)
            let files = Dictionary(uniqueKeysWithValues: result.files.map { ($0.path, $0) })
            #expect(String(decoding: files["plain"]!.contents, as: UTF8.self) == "plain-value-1" && files["plain"]!.mode == 0o600)
            #expect(files["rsa"]!.mode == 0o644)
            for key in ["rsa", "ec"] { #expect(String(decoding: files[key]!.contents, as: UTF8.self).hasPrefix("-----BEGIN PUBLIC KEY-----")) }
            let crt = String(decoding: files["tls.crt"]!.contents, as: UTF8.self)
            #expect(crt.hasPrefix("-----BEGIN CERTIFICATE-----") && crt.components(separatedBy: "BEGIN CERTIFICATE").count == 2)
            let pem = String(decoding: files["tls.pem"]!.contents, as: UTF8.self)
            #expect(pem.hasPrefix("-----BEGIN PRIVATE KEY-----"))
            #expect(pem.components(separatedBy: "BEGIN CERTIFICATE").count == 4)  // leaf, intermediate, root
            #expect(pem.contains(crt.trimmingCharacters(in: .whitespacesAndNewlines)))
            #expect(files["tls.pfx"]!.contents.first == 0x30)
            // Without objectEncoding, pfx is the stored base64 text, as upstream writes it.
            #expect(Data(base64Encoded: Data(files["tls.pfx.b64"]!.contents)).map(Array.init) == files["tls.pfx"]!.contents)
            #expect(String(decoding: files["tls-pem"]!.contents, as: UTF8.self).hasPrefix("-----BEGIN PRIVATE KEY-----"))
            #expect(result.objectVersions.contains { $0.id == "secret/plain" && $0.version.count == 32 })
            #expect(result.objectVersions.contains { $0.id == "cert/tls-pfx" })
        }
    }

    @Test func certAndKeyInSeparateFiles() async throws {
        try await EmulatorFixture.with { f in
            var config = ProviderConfiguration(writeCertAndKeyInSeparateFiles: true)
            config.imdsEndpoint = f.emulator.imdsURL
            let result = try await AzureProvider(session: f.session, configuration: config).mount(
                attributes: attributes(f, ["objectName: tls-pfx\nobjectType: secret\nobjectAlias: tls"]), secrets: Self.readerSecrets)
            let files = Dictionary(uniqueKeysWithValues: result.files.map { ($0.path, String(decoding: $0.contents, as: UTF8.self)) })
            #expect(Set(files.keys) == ["tls", "tls.crt", "tls.key"])
            #expect(files["tls.key"]!.hasPrefix("-----BEGIN PRIVATE KEY-----") && !files["tls.key"]!.contains("CERTIFICATE"))
            #expect(files["tls.crt"]!.hasPrefix("-----BEGIN CERTIFICATE-----") && !files["tls.crt"]!.contains("PRIVATE KEY"))
            #expect(files["tls.crt"]!.components(separatedBy: "BEGIN CERTIFICATE").count == 4)
            #expect(result.objectVersions.count == 1)
        }
    }

    @Test func versionHistoryAndEncodings() async throws {
        try await EmulatorFixture.with { f in
            let admin = try await f.client(credential: f.adminCredential())
            _ = try await admin.setSecret("encoded", value: "aGVsbG8=")
            _ = try await admin.setSecret("hexed", value: "68656c6c6f")
            let client = try await f.client()
            let versions = try await client.listVersions(.secret, name: "rotating")
            let result = try await provider(f).mount(attributes: attributes(f, [
                "objectName: rotating\nobjectType: secret\nobjectVersionHistory: 2",
                "objectName: encoded\nobjectType: secret\nobjectEncoding: base64",
                "objectName: hexed\nobjectType: secret\nobjectEncoding: hex",
                "objectName: rotating\nobjectType: secret\nobjectAlias: first\nobjectVersion: \(versions[0].id!.keyVaultVersion)",
            ]), secrets: ["clientid": f.emulator.credentials.clientId, "clientsecret": f.emulator.credentials.clientSecret])
            let files = Dictionary(uniqueKeysWithValues: result.files.map { ($0.path, String(decoding: $0.contents, as: UTF8.self)) })
            #expect(files["rotating/0"] == "r3" && files["rotating/1"] == "r2" && files["rotating/2"] == nil)
            #expect(files["encoded"] == "hello" && files["hexed"] == "hello" && files["first"] == "r1")
            #expect(result.objectVersions.contains { $0.id == "secret/rotating/0" } && result.objectVersions.contains { $0.id == "secret/rotating/1" })
        }
    }

    @Test func mountIsAllOrNothingAndNamesEveryFailure() async throws {
        _ = try await EmulatorFixture.with { f in
            await #expect {
                _ = try await provider(f).mount(attributes: attributes(f, [
                    "objectName: plain\nobjectType: secret",
                    "objectName: missing\nobjectType: secret",
                    "objectName: disabled\nobjectType: secret",
                ]), secrets: Self.readerSecrets)
            } throws: { error in
                let text = "\(error)"
                return text.contains("objectName:missing") && text.contains("SecretNotFound") && text.contains("objectName:disabled")
                    && text.contains("SecretDisabled") && !text.contains("plain-value-1") && !text.contains("hidden")
            }
        }
    }

    @Test func identityErrors() async throws {
        try await EmulatorFixture.with { f in
            let p = provider(f)
            let one = attributes(f, ["objectName: plain\nobjectType: secret"])
            await #expect { _ = try await p.mount(attributes: one, secrets: [:]) } throws: { "\($0)".contains("nodePublishSecretRef secret is not set") }
            await #expect { _ = try await p.mount(attributes: one, secrets: ["clientid": EmulatorFixture.readerID]) } throws: { "\($0)".contains("could not find clientsecret") }
            await #expect { _ = try await p.mount(attributes: one, secrets: ["ClientID": EmulatorFixture.readerID, "ClientSecret": "wrong"]) } throws: {
                "\($0)".contains("AADSTS7000215") && !"\($0)".contains("wrong")
            }
            let workload = attributes(f, ["objectName: plain\nobjectType: secret"], extra: ["clientID": EmulatorFixture.readerID])
            await #expect { _ = try await p.mount(attributes: workload, secrets: [:]) } throws: { "\($0)".contains("api://AzureADTokenExchange") }
            let outsider = ["clientid": EmulatorFixture.outsiderID, "clientsecret": EmulatorFixture.outsiderSecret]
            await #expect { _ = try await p.mount(attributes: one, secrets: outsider) } throws: { "\($0)".contains("ForbiddenByRbac") }
            let badCloud = attributes(f, ["objectName: plain\nobjectType: secret"], extra: ["cloudName": "MoonCloud"])
            await #expect { _ = try await p.mount(attributes: badCloud, secrets: Self.readerSecrets) } throws: { "\($0)".contains("cloudName") && "\($0)".contains("MoonCloud") }
        }
    }

    /// Each failure says what kind it is (the kubelet Event's `[…]`, the gRPC trailer), and only an unreachable or
    /// throttling vault or Entra counts as an outage (the driver may then serve the last good content).
    @Test func failuresAreClassifiedAndOnlyUnreachableOrThrottledIsAnOutage() async throws {
        try await EmulatorFixture.with { f in
            let p = provider(f, ttl: .milliseconds(1))
            func failure(_ objects: [String], secrets: [String: String] = Self.readerSecrets) async -> ProviderError? {
                do throws(ProviderError) { _ = try await p.mount(attributes: attributes(f, objects), secrets: secrets); return nil } catch { return error }
            }
            let missing = await failure(["objectName: missing\nobjectType: secret"])
            #expect(missing?.failureClass == .notFound && missing?.isOutage == false && missing?.mountMessage.hasPrefix("failed to mount objects, error: [not found: 1] ") == true)
            let disabled = await failure(["objectName: disabled\nobjectType: secret"])
            #expect(disabled?.failureClass == .disabled && disabled?.isOutage == false)
            let forbidden = await failure(["objectName: plain\nobjectType: secret"], secrets: ["clientid": EmulatorFixture.outsiderID, "clientsecret": EmulatorFixture.outsiderSecret])
            #expect(forbidden?.failureClass == .forbidden && forbidden?.isOutage == false)
            let wrongSecret = await failure(["objectName: plain\nobjectType: secret"], secrets: ["clientid": EmulatorFixture.readerID, "clientsecret": "wrong"])
            #expect(wrongSecret?.failureClass == .identity && wrongSecret?.mountMessage.contains("[identity rejected] ") == true && wrongSecret?.isOutage == false)
            // A missing object next to an unreachable vault: not an outage (the missing one would fail anyway).
            try await f.admin.setFaults(FaultSettings(outage: true), vault: "test-kv")
            let down = await failure(["objectName: plain\nobjectType: secret"])
            #expect(down?.failureClass == .unreachable && down?.isOutage == true && down?.mountMessage.contains("[Key Vault unreachable: 1] ") == true)
            try await f.admin.setFaults(FaultSettings(throttle: .init(limit: 0, windowSeconds: 0.2)), vault: "test-kv")
            let throttled = await failure(["objectName: plain\nobjectType: secret"])
            #expect(throttled?.failureClass == .throttled && throttled?.isOutage == true, "\(String(describing: throttled))")
            #expect(throttled?.mountMessage.contains("(Retry-After ") == true, "\(String(describing: throttled))")
            try await f.admin.setFaults(FaultSettings(), vault: "test-kv")
            // Entra down: a provider without a cached token cannot get one; the vault is fine.
            try await f.admin.setTokenFaults(TokenFaultSettings(outage: true))
            var fresh = try KeyVaultSession.make(additionalCAFile: f.emulator.caFile)
            fresh.retry = f.session.retry
            var entra: ProviderError?
            do throws(ProviderError) {
                _ = try await AzureProvider(session: fresh, configuration: ProviderConfiguration(objectCacheTTL: .milliseconds(1)))
                    .mount(attributes: attributes(f, ["objectName: plain\nobjectType: secret"]), secrets: Self.readerSecrets)
            } catch { entra = error }
            try? await fresh.shutdown()
            #expect(entra?.failureClass == .unreachable && entra?.isOutage == true && entra?.mountMessage.contains("[Entra ID unreachable] ") == true,
                    "\(String(describing: entra))")
        }
    }

    @Test func workloadAndManagedIdentityMount() async throws {
        try await EmulatorFixture.with { f in
            let token = try await f.admin.issuerToken(subject: EmulatorFixture.workloadSubject)
            let tokens = #"{"api://AzureADTokenExchange":{"token":"\#(token)","expirationTimestamp":"2030-01-01T00:00:00Z"}}"#
            let workload = attributes(f, ["objectName: plain\nobjectType: secret"],
                                      extra: ["clientID": EmulatorFixture.readerID, "csi.storage.k8s.io/serviceAccount.tokens": tokens])
            #expect(try await provider(f).mount(attributes: workload, secrets: [:]).files.first?.contents == Array("plain-value-1".utf8))
            let managed = attributes(f, ["objectName: plain\nobjectType: secret"],
                                     extra: ["useVMManagedIdentity": "true", "userAssignedIdentityID": EmulatorFixture.managedID])
            #expect(try await provider(f).mount(attributes: managed, secrets: [:]).files.count == 1)
        }
    }

    @Test func concurrentMountsShareKeyVaultReads() async throws {
        try await EmulatorFixture.with { f in
            let p = provider(f)
            let objects = ["objectName: plain\nobjectType: secret", "objectName: rsa\nobjectType: key", "objectName: tls-pfx\nobjectType: cert"]
            let a = attributes(f, objects)
            _ = try await f.session.tokens.token(for: f.secretCredential(), scope: f.cloud.keyVaultScope)
            try await f.admin.resetCounters()
            try await withThrowingTaskGroup(of: Int.self) { group in
                for _ in 0..<200 { group.addTask { try await p.mount(attributes: a, secrets: Self.readerSecrets).files.count } }
                for try await count in group { #expect(count == 3) }
            }
            let counts = try #require(try await f.admin.counters().vaults["test-kv"])
            #expect(counts.total == 3)
            #expect(counts.byObject == ["secrets/plain": 1, "keys/rsa": 1, "certificates/tls-pfx": 1])
            // Another identity never gets those results: the outsider is refused by the vault itself.
            let outsider = ["clientid": EmulatorFixture.outsiderID, "clientsecret": EmulatorFixture.outsiderSecret]
            await #expect(throws: ProviderError.self) { try await p.mount(attributes: a, secrets: outsider) }
        }
    }

    @Test func localMountSwapsOnlyWhatChanged() async throws {
        try await EmulatorFixture.with { f in
            let spc = SecretProviderClass(metadata: ObjectMeta(name: "demo", namespace: "apps"), spec: .init(provider: "azure", parameters: attributes(f, [
                "objectName: plain\nobjectType: secret", "objectName: rsa\nobjectType: key",
            ])))
            let target = f.directory.appendingPathComponent("mount")
            let first = try await LocalMount(provider: provider(f, ttl: .zero)).run(spc, target: target, nodePublishSecret: Self.readerSecrets)
            #expect(first.outcome == .written(changed: ["plain", "rsa"]) && first.rows.count == 2)
            let again = try await LocalMount(provider: provider(f, ttl: .zero)).run(spc, target: target, nodePublishSecret: Self.readerSecrets)
            #expect(again.outcome == .unchanged)
            _ = try await f.client(credential: f.adminCredential()).setSecret("plain", value: "plain-value-2")
            let rotated = try await LocalMount(provider: provider(f, ttl: .zero)).run(spc, target: target, nodePublishSecret: Self.readerSecrets)
            #expect(rotated.outcome == .written(changed: ["plain"]))
            #expect(try String(contentsOf: target.appendingPathComponent("plain"), encoding: .utf8) == "plain-value-2")
            // A failing mount leaves the folder as it was.
            var broken = spc
            broken.spec.parameters?["objects"] = "array:\n  - |\n    objectName: missing\n    objectType: secret\n"
            await #expect(throws: (any Error).self) { try await LocalMount(provider: provider(f)).run(broken, target: target, nodePublishSecret: Self.readerSecrets) }
            #expect(try String(contentsOf: target.appendingPathComponent("plain"), encoding: .utf8) == "plain-value-2")
        }
    }

    @Test func aCallerBoundsTheAgeOfSharedResults() async throws {
        try await EmulatorFixture.with { f in
            let shared = provider(f, ttl: .seconds(60))
            let plain = attributes(f, ["objectName: plain\nobjectType: secret"])
            func value(_ extra: [String: String] = [:]) async throws -> String {
                let result = try await shared.mount(attributes: plain.merging(extra) { $1 }, secrets: Self.readerSecrets)
                return String(decoding: result.files.first { $0.path == "plain" }?.contents ?? [], as: UTF8.self)
            }
            let first = try await value()
            _ = try await f.client(credential: f.adminCredential()).setSecret("plain", value: "plain-value-fresh")
            #expect(try await value() == first, "within the TTL the shared result is served")
            #expect(try await value([AzureProvider.maxObjectAgeAttribute: "30"]) == first, "younger than 30 s: still shared")
            #expect(try await value([AzureProvider.maxObjectAgeAttribute: "0"]) == "plain-value-fresh", "0 reads the vault")
            #expect(try await value() == "plain-value-fresh", "the fresh read is what is shared from then on")
            await #expect(throws: ProviderError.self) { try await value([AzureProvider.maxObjectAgeAttribute: "soon"]) }
        }
    }
}
