import AzureIdentity
import Emulator
import EmulatorTestSupport
import Foundation
import Testing

@Suite struct StartupTests {
    func tempDir() -> URL { FileManager.default.temporaryDirectory.appendingPathComponent("akvs-startup-\(UUID().uuidString)") }

    @Test func writesStateFilesAndKeepsTheCAAcrossRestarts() async throws {
        let dir = tempDir()
        defer { try? FileManager.default.removeItem(at: dir) }
        let first = try await EmulatorServer.start(EmulatorOptions(stateDirectory: dir))
        let ca1 = try String(contentsOf: dir.appendingPathComponent("ca.pem"), encoding: .utf8)
        let credentials = try JSONSerialization.jsonObject(with: Data(contentsOf: dir.appendingPathComponent("credentials.json"))) as? [String: Any]
        #expect(credentials?["tenantId"] as? String == EmulatorServer.defaultTenant)
        #expect((credentials?["vaultUrls"] as? [String: String])?["akvs-demo"] == "https://akvs-demo.vault.localhost:\(first.port)/")
        let cloud = try AzureCloud.load(environmentFile: dir.appendingPathComponent("cloud.json").path)
        #expect(cloud.keyVaultDNSSuffix == "vault.localhost:\(first.port)")
        #expect(cloud.connectAddress == "127.0.0.1:\(first.port)")
        let mode = try FileManager.default.attributesOfItem(atPath: dir.appendingPathComponent("credentials.json").path)[.posixPermissions] as? Int
        #expect(mode == 0o600)
        #expect(first.readyLine.hasPrefix("akvs emulator ready https://localhost:\(first.port) imds=http://127.0.0.1:"))
        await first.stop()
        let second = try await EmulatorServer.start(EmulatorOptions(stateDirectory: dir))
        #expect(try String(contentsOf: dir.appendingPathComponent("ca.pem"), encoding: .utf8) == ca1)
        await second.stop()
    }

    @Test func seedErrorsNameTheField() async throws {
        let cases: [(String, String)] = [
            ("vaults:\n  - name: a_b\n", "vaults[].name"),
            ("vaults:\n  - name: kv-one\nidentities:\n  - {name: x, clientId: 11111111-1111-4111-8111-111111111111, access: {missing-kv: read}}\n", "access.missing-kv"),
            ("vaults:\n  - name: kv-one\nidentities:\n  - {name: x, clientId: not-a-guid}\n", "identities[x].clientId"),
            ("vaults:\n  - name: kv-one\n    keys:\n      - {name: k, kty: RSA, size: 1024}\n", "1024"),
            ("vaults:\n  - name: kv-one\n    faults: {errorRate: 3}\n", "errorRate"),
            ("vaults: [\n", "(document)"),
            ("vaults:\n  - name: kv-one\n    secrets:\n      - {name: s}\n", "secrets[s]"),
        ]
        for (yaml, expected) in cases {
            let dir = tempDir()
            try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
            let seed = dir.appendingPathComponent("seed.yaml")
            try yaml.write(to: seed, atomically: true, encoding: .utf8)
            await #expect {
                let running = try await EmulatorServer.start(EmulatorOptions(stateDirectory: dir.appendingPathComponent("s"), seedPath: seed.path))
                await running.stop()
            } throws: { error in
                "\(error)".contains(expected)
            }
            try? FileManager.default.removeItem(at: dir)
        }
    }
}
