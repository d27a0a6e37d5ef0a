import AzureIdentity
import AzureProvider
import EmulatorTestSupport
import Foundation
import KeyVault
import Testing

/// A vault whose certificate is not trusted fails at once with the host and the fix, and is never retried;
/// SSL_CERT_FILE / SSL_CERT_DIR replace the system roots as they do for Go and OpenSSL programs.
@Suite struct TrustTests {
    func attributes(_ f: EmulatorFixture) -> [String: String] {
        ["keyvaultName": "test-kv", "tenantId": EmulatorFixture.tenant, "cloudName": "AzureStackCloud",
         "cloudEnvFileName": f.emulator.credentials.cloudEnvFile,
         "objects": "array:\n  - |\n    objectName: plain\n    objectType: secret\n"]
    }

    func mount(_ f: EmulatorFixture, environment: [String: String], caFile: String? = nil) async throws -> Result<MountResult, ProviderError> {
        let session = try KeyVaultSession.make(additionalCAFile: caFile, environment: environment)
        defer { Task { try? await session.shutdown() } }
        let provider = AzureProvider(session: session)
        do { return .success(try await provider.mount(attributes: attributes(f), secrets: MountTests.readerSecrets)) } catch { return .failure(error) }
    }

    @Test func anUntrustedCertificateFailsAtOnceNamingTheHostAndTheFix() async throws {
        try await EmulatorFixture.with { f in
            let start = ContinuousClock.now
            let result = try await mount(f, environment: [:])
            let elapsed = ContinuousClock.now - start
            guard case .failure(let error) = result else { Issue.record("an untrusted vault was accepted"); return }
            #expect(error.description.contains("not trusted"), "\(error)")
            #expect(error.description.contains("--ca-file") && error.description.contains("SSL_CERT_FILE"), "\(error)")
            #expect(error.description.contains("localhost"), "the host is named: \(error)")
            // No retries: the failure is not transient, so no retry policy repeats it; and no wait for a deadline
            // (the bound is generous: loading the system trust store on a loaded machine takes seconds).
            #expect(!TransportError.untrusted(host: "localhost", reason: "test").isTransient)
            #expect(elapsed < .seconds(25), "no wait for the 30 s request deadline: \(elapsed)")
        }
    }

    @Test func sslCertFileAndDirReplaceTheSystemRoots() async throws {
        try await EmulatorFixture.with { f in
            guard case .success(let viaFile) = try await mount(f, environment: ["SSL_CERT_FILE": f.emulator.caFile]) else {
                Issue.record("SSL_CERT_FILE was not honoured"); return
            }
            #expect(viaFile.files.map(\.path) == ["plain"])
            let dir = f.directory.appendingPathComponent("certs")
            try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
            try FileManager.default.copyItem(atPath: f.emulator.caFile, toPath: dir.appendingPathComponent("emulator.pem").path)
            try Data("not a certificate".utf8).write(to: dir.appendingPathComponent("README"))
            guard case .success = try await mount(f, environment: ["SSL_CERT_DIR": dir.path]) else {
                Issue.record("SSL_CERT_DIR was not honoured"); return
            }
            #expect(throws: TrustError.self) { try KeyVaultSession.make(environment: ["SSL_CERT_FILE": "/nonexistent/ca.pem"]) }
            #expect(throws: TrustError.self) { try KeyVaultSession.make(additionalCAFile: dir.appendingPathComponent("README").path, environment: [:]) }
        }
    }
}
