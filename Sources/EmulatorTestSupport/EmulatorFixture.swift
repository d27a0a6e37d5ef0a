import AzureIdentity
import Emulator
import Foundation
import KeyVault

/// A running emulator with a session and ready-made credentials, for tests and benchmarks.
public struct EmulatorFixture: Sendable {
    public let emulator: RunningEmulator
    public let session: KeyVaultSession
    public let admin: EmulatorAdminClient
    public let directory: URL

    public static let tenant = "6f1b2c3d-0000-4000-8000-000000000001"
    public static let readerID = "11111111-1111-4111-8111-111111111111"
    public static let readerSecret = "reader-secret"
    public static let outsiderID = "33333333-3333-4333-8333-333333333333"
    public static let outsiderSecret = "outsider-secret"
    public static let managedID = "22222222-2222-4222-8222-222222222222"
    public static let workloadSubject = "system:serviceaccount:apps:web"

    /// The default seed: vault `test-kv` (secrets, keys, certificates) and `other-kv`, four identities.
    public static let defaultSeed = """
    tenantId: \(tenant)
    vaults:
      - name: test-kv
        secrets:
          - {name: plain, value: plain-value-1, contentType: text/plain, tags: {k: v}}
          - name: rotating
            versions: [{value: r1}, {value: r2}, {value: r3}]
          - {name: disabled, value: hidden, enabled: false}
        keys:
          - {name: rsa, kty: RSA, size: 2048}
          - {name: ec, kty: EC, curve: P-256}
        certificates:
          - {name: tls-pfx, subject: CN=pfx.test, dnsNames: [pfx.test], issuer: Emulator, kty: EC, curve: P-256}
          - {name: tls-pem, subject: CN=pem.test, issuer: Self, kty: EC, curve: P-256, contentType: application/x-pem-file}
      - name: other-kv
        secrets:
          - {name: elsewhere, value: x}
    identities:
      - name: reader
        clientId: \(readerID)
        clientSecret: \(readerSecret)
        federatedCredentials:
          - {issuer: EMULATOR, subject: "\(workloadSubject)"}
        access: {test-kv: read}
      - name: outsider
        clientId: \(outsiderID)
        clientSecret: \(outsiderSecret)
        access: {other-kv: read}
      - name: node
        clientId: \(managedID)
        managedIdentity: user
        access: {test-kv: read}
      - name: system
        clientId: 44444444-4444-4444-8444-444444444444
        managedIdentity: system
        access: {test-kv: read}
    """

    /// Starts an emulator with `seed` in a fresh temporary directory.
    public static func start(seed: String = defaultSeed, retry: RetryPolicy = RetryPolicy(maxAttempts: 4, baseDelay: .milliseconds(20), maxDelay: .milliseconds(200))) async throws -> EmulatorFixture {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("akvs-test-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        let seedFile = dir.appendingPathComponent("seed.yaml")
        try seed.write(to: seedFile, atomically: true, encoding: .utf8)
        let emulator = try await EmulatorServer.start(EmulatorOptions(stateDirectory: dir.appendingPathComponent("state"), seedPath: seedFile.path))
        var session = try KeyVaultSession.make(additionalCAFile: emulator.caFile)
        session.retry = retry
        return EmulatorFixture(emulator: emulator, session: session, admin: EmulatorAdminClient(emulator: emulator, transport: session.transport), directory: dir)
    }

    public var cloud: AzureCloud { emulator.cloud }

    public func secretCredential(clientID: String = readerID, secret: String = readerSecret) throws -> ClientSecretCredential {
        try ClientSecretCredential(tenantID: Self.tenant, clientID: clientID, clientSecret: secret, cloud: cloud, transport: session.transport, retry: session.retry)
    }

    public func adminCredential() throws -> ClientSecretCredential {
        try secretCredential(clientID: emulator.credentials.clientId, secret: emulator.credentials.clientSecret)
    }

    public func client(_ vault: String = "test-kv", credential: (any TokenCredential)? = nil) async throws -> KeyVaultClient {
        try await session.client(vault: vault, cloud: cloud, credential: credential ?? secretCredential())
    }

    /// Stops the emulator, closes the session and removes the directory.
    public func stop() async {
        try? await session.shutdown()
        await emulator.stop()
        try? FileManager.default.removeItem(at: directory)
    }

    /// Runs `body` with a fresh fixture and always stops it.
    public static func with<T: Sendable>(seed: String = defaultSeed, _ body: (EmulatorFixture) async throws -> T) async throws -> T {
        let fixture = try await start(seed: seed)
        do {
            let result = try await body(fixture)
            await fixture.stop()
            return result
        } catch {
            await fixture.stop()
            throw error
        }
    }
}
