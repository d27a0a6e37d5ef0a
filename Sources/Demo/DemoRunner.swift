import AtomicWriter
import AzureIdentity
import AzureProvider
import Emulator
import Foundation
import KeyVault
import Logging
import SecretsStoreAPI

/// `akvs demo`: the README's tour on the embedded emulator. Prints sizes and versions, never values.
public struct DemoRunner: Sendable {
    public let examples: URL
    public let workDirectory: URL
    let print: @Sendable (String) -> Void

    public init(examples: URL, workDirectory: URL, print: @escaping @Sendable (String) -> Void) {
        self.examples = examples; self.workDirectory = workDirectory; self.print = print
    }

    static let vault = "akvs-demo"
    static let appClientID = "11111111-1111-4111-8111-111111111111"
    static let nodeIdentityClientID = "22222222-2222-4222-8222-222222222222"
    static let outsiderClientID = "33333333-3333-4333-8333-333333333333"

    public func run() async throws {
        let emulator = try await EmulatorServer.start(EmulatorOptions(stateDirectory: workDirectory.appendingPathComponent("emulator"),
                                                                      seedPath: examples.appendingPathComponent("emulator-seed.yaml").path))
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
        let admin = EmulatorAdminClient(emulator: emulator, transport: session.transport)
        print("1. Emulator up: Entra \(emulator.credentials.authorityHost), vault \(emulator.vaultURL(Self.vault)), IMDS \(emulator.credentials.imdsEndpoint)")

        var spc = try SecretProviderClass.parse(yaml: try text("secretproviderclass.yaml"), source: "examples/secretproviderclass.yaml")
        spc.spec.parameters?["cloudEnvFileName"] = emulator.credentials.cloudEnvFile
        let nodePublishSecret = try SecretManifest.parse(yaml: try text("node-publish-secret.yaml"), source: "examples/node-publish-secret.yaml")
        let target = workDirectory.appendingPathComponent("mount")
        try? FileManager.default.removeItem(at: target)

        print("\n2. Mount examples/secretproviderclass.yaml (service principal from examples/node-publish-secret.yaml) into \(target.path):")
        try await admin.resetCounters()
        let first = try await LocalMount(provider: AzureProvider(session: session, logger: quiet)).run(spc, target: target, nodePublishSecret: nodePublishSecret)
        print(first.table(target: target.path, indent: "   "))
        print("   \(try await vaultGets(admin)) Key Vault reads for \(first.rows.count) files; the folder:")
        print(listing(target).map { "     " + $0 }.joined(separator: "\n"))

        print("\n3. Rotate db-password in the vault, then mount again:")
        let adminCredential = try ClientSecretCredential(tenantID: emulator.credentials.tenantId, clientID: emulator.credentials.clientId,
                                                         clientSecret: emulator.credentials.clientSecret, cloud: emulator.cloud, transport: session.transport)
        let adminClient = try await session.client(vault: Self.vault, cloud: emulator.cloud, credential: adminCredential)
        _ = try await adminClient.setSecret("db-password", value: "rotated-\(UUID().uuidString)", contentType: "text/plain")
        let second = try await LocalMount(provider: AzureProvider(session: session, logger: quiet)).run(spc, target: target, nodePublishSecret: nodePublishSecret)
        print(second.table(target: target.path, indent: "   "))

        print("\n4. One secret through each identity mode the Azure provider supports:")
        let federated = try await admin.issuerToken(subject: "system:serviceaccount:default:demo-app")
        let modes: [(String, [String: String], [String: String], [String: String])] = [
            ("service principal", [:], nodePublishSecret, [:]),
            ("workload identity", ["clientID": Self.appClientID], [:], ["api://AzureADTokenExchange": federated]),
            ("managed identity (IMDS)", ["useVMManagedIdentity": "true", "userAssignedIdentityID": Self.nodeIdentityClientID], [:], [:]),
            ("identity without access", [:], ["clientid": Self.outsiderClientID, "clientsecret": "outsider-secret"], [:]),
        ]
        var config = ProviderConfiguration()
        config.imdsEndpoint = emulator.imdsURL
        let provider = AzureProvider(session: session, configuration: config, logger: quiet)
        for (label, extra, secrets, tokens) in modes {
            var one = spc
            one.spec.parameters?["objects"] = "array:\n  - |\n    objectName: db-password\n    objectType: secret\n"
            one.spec.parameters?.merge(extra) { $1 }
            let attributes = LocalMount.attributes(for: one, pod: LocalMount.Pod(), serviceAccountTokens: tokens)
            let name = label.padding(toLength: 26, withPad: " ", startingAt: 0)
            do {
                let result = try await provider.mount(attributes: attributes, secrets: secrets)
                print("   \(name) ok, version \(result.objectVersions.first.map { String($0.version.prefix(12)) } ?? "-")")
            } catch {
                print("   \(name) refused: \(String(describing: error).prefix(150))…")
            }
        }
        let counters = try await admin.counters()
        print("\n5. Emulator counters: \(counters.vaults[Self.vault]?.total ?? 0) vault requests, \(counters.token.total) token requests, \(counters.imds.total) IMDS requests")
        print("   Next: akvs emulator --state-dir DIR --seed examples/emulator-seed.yaml, then akvs mount -f examples/secretproviderclass.yaml …")
    }

    /// The demo reports refusals itself; the provider's own warnings would repeat them.
    var quiet: Logger {
        var logger = Logger(label: "akvs.demo")
        logger.logLevel = .error
        return logger
    }

    func text(_ name: String) throws -> String {
        try String(contentsOf: examples.appendingPathComponent(name), encoding: .utf8)
    }

    func vaultGets(_ admin: EmulatorAdminClient) async throws -> Int {
        try await admin.counters().vaults[Self.vault]?.byStatus["200"] ?? 0
    }

    /// `name -> link` lines of the mount's top level, as `ls -l` would show them.
    func listing(_ target: URL) -> [String] {
        let entries = ((try? FileManager.default.contentsOfDirectory(atPath: target.path)) ?? []).sorted()
        return entries.map { entry in
            let link = try? FileManager.default.destinationOfSymbolicLink(atPath: target.appendingPathComponent(entry).path)
            return link.map { "\(entry) -> \($0)" } ?? "\(entry)/"
        }
    }
}
