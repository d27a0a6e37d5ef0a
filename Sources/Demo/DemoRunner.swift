import AzureIdentity
import Emulator
import Foundation
import KeyVault

/// `akvs demo`: the README's tour on the embedded emulator. Prints sizes and versions, never values.
public struct DemoRunner: Sendable {
    public let seedPath: String
    public let workDirectory: URL
    let print: @Sendable (String) -> Void

    public init(seedPath: String, workDirectory: URL, print: @escaping @Sendable (String) -> Void) {
        self.seedPath = seedPath; self.workDirectory = workDirectory; self.print = print
    }

    static let vault = "akvs-demo"
    static let appClientID = "11111111-1111-4111-8111-111111111111"
    static let nodeIdentityClientID = "22222222-2222-4222-8222-222222222222"
    static let outsiderClientID = "33333333-3333-4333-8333-333333333333"

    public func run() async throws {
        let emulator = try await EmulatorServer.start(EmulatorOptions(stateDirectory: workDirectory.appendingPathComponent("emulator"), seedPath: seedPath))
        let session = try KeyVaultSession.make(additionalCAFile: emulator.caFile)
        do {
            try await tour(emulator, session)
        } catch {
            try? await session.shutdown()
            await emulator.stop()
            throw error
        }
        try await session.shutdown()
        await emulator.stop()
    }

    func tour(_ emulator: RunningEmulator, _ session: KeyVaultSession) async throws {
        let cloud = emulator.cloud
        let tenant = emulator.credentials.tenantId
        let admin = EmulatorAdminClient(emulator: emulator, transport: session.transport)
        print("1. Emulator up: Entra \(emulator.credentials.authorityHost), vault \(emulator.vaultURL(Self.vault)), IMDS \(emulator.credentials.imdsEndpoint)")
        print("   environment file for SPCs (cloudName: AzureStackCloud): \(emulator.credentials.cloudEnvFile)")

        let secretCredential = try ClientSecretCredential(tenantID: tenant, clientID: Self.appClientID, clientSecret: "demo-app-secret",
                                                          cloud: cloud, transport: session.transport)
        let client = try await session.client(vault: Self.vault, cloud: cloud, credential: secretCredential)
        print("\n2. Every object in \(Self.vault), read as service principal \(Self.appClientID) (values are never printed):")
        var rows: [[String]] = [["TYPE", "NAME", "VERSION", "CONTENT TYPE", "SIZE"]]
        for item in try await client.listObjects(.secret) {
            let name = item.id?.split(separator: "/").last.map(String.init) ?? "?"
            do {
                let secret = try await client.getSecret(name)
                rows.append(["secret", name, short(secret.id), secret.contentType ?? "-", "\(secret.value?.utf8.count ?? 0) B"])
            } catch {
                rows.append(["secret", name, "-", "-", "error: \(error.code ?? "?")"])
            }
        }
        for item in try await client.listObjects(.key) {
            let name = item.kid?.split(separator: "/").last.map(String.init) ?? "?"
            let key = try await client.getKey(name)
            let size = key.key.n.flatMap(Base64URL.decode).map { "\($0.count * 8)-bit" } ?? key.key.crv ?? "-"
            rows.append(["key", name, short(key.key.kid), key.key.kty, size])
        }
        for item in try await client.listObjects(.certificate) {
            let name = item.id?.split(separator: "/").last.map(String.init) ?? "?"
            let cert = try await client.getCertificate(name)
            rows.append(["cert", name, short(cert.id), cert.policy?.secretProps?.contentType ?? "-", "\(cert.cer.flatMap { Data(base64Encoded: $0) }?.count ?? 0) B DER"])
        }
        print(table(rows))

        print("\n3. The same secret through each identity mode:")
        let federated = try await admin.issuerToken(subject: "system:serviceaccount:default:demo-app")
        let workload = try ClientAssertionCredential(tenantID: tenant, clientID: Self.appClientID, assertion: .token(federated), cloud: cloud, transport: session.transport)
        let managed = try ManagedIdentityCredential(clientID: Self.nodeIdentityClientID, endpoint: emulator.imdsURL, transport: session.transport)
        let outsider = try ClientSecretCredential(tenantID: tenant, clientID: Self.outsiderClientID, clientSecret: "outsider-secret", cloud: cloud, transport: session.transport)
        for (label, credential) in [("service principal", secretCredential as any TokenCredential), ("workload identity", workload),
                                    ("managed identity (IMDS)", managed), ("identity without access", outsider)] {
            let c = try await session.client(vault: Self.vault, cloud: cloud, credential: credential)
            do {
                let secret = try await c.getSecret("db-password")
                print("   \(label.padding(toLength: 26, withPad: " ", startingAt: 0)) ok, version \(short(secret.id))")
            } catch {
                print("   \(label.padding(toLength: 26, withPad: " ", startingAt: 0)) \(error.status.map { "HTTP \($0)" } ?? "") \(error.code ?? "")")
            }
        }

        print("\n4. Rotate db-password in the vault and read it again:")
        let adminCredential = try ClientSecretCredential(tenantID: tenant, clientID: emulator.credentials.clientId,
                                                         clientSecret: emulator.credentials.clientSecret, cloud: cloud, transport: session.transport)
        let adminClient = try await session.client(vault: Self.vault, cloud: cloud, credential: adminCredential)
        let before = try await client.getSecret("db-password")
        _ = try await adminClient.setSecret("db-password", value: "rotated-\(UUID().uuidString)", contentType: "text/plain")
        let after = try await client.getSecret("db-password")
        print("   version \(short(before.id)) -> \(short(after.id)), \(try await client.listVersions(.secret, name: "db-password").count) versions now")

        let counters = try await admin.counters()
        let vaultCounts = counters.vaults[Self.vault]
        print("\n5. Emulator counters: \(vaultCounts?.total ?? 0) vault requests (by status \(vaultCounts?.byStatus.sorted { $0.key < $1.key }.map { "\($0.key)=\($0.value)" }.joined(separator: " ") ?? "")), \(counters.token.total) token requests, \(counters.imds.total) IMDS requests")
    }

    func short(_ id: String?) -> String { String(id?.keyVaultVersion.prefix(8) ?? "-") }

    func table(_ rows: [[String]]) -> String {
        let widths = (0..<rows[0].count).map { column in rows.map { $0[column].count }.max() ?? 0 }
        return rows.map { row in "   " + row.enumerated().map { $1.padding(toLength: widths[$0], withPad: " ", startingAt: 0) }.joined(separator: "  ") }
            .joined(separator: "\n")
    }
}
