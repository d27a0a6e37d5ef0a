import AzureIdentity
import AzureProvider
import Crypto
import Emulator
import EmulatorTestSupport
import Foundation
import KeyVault
import Logging
import ProviderClient
import Kubernetes
import KubernetesTestServer
import SecretsStoreAPI
import SyncController

/// A Kubernetes test server and a Key Vault emulator that trusts its service-account tokens (workload
/// identity for `apps/web`), a running controller, and helpers.
struct Harness: Sendable {
    let server: KubeTestServer
    let client: KubernetesClient
    let emulator: EmulatorFixture
    let statistics: SyncStatistics
    let source: AzureSecretSource
    static let clientID = "55555555-5555-4555-8555-555555555555"
    /// With `apiExpires`, the `api` secret expires in 10 days (within the 30-day warning), at a whole second.
    static let apiExpiry = ISO8601DateFormatter().string(from: Date(timeIntervalSince1970: (Date().timeIntervalSince1970 + 10 * 86400).rounded(.down)))

    static func with(pollInterval: Duration = .seconds(3600), partial: Bool = true, startController: Bool = true,
                     circuit: (threshold: Int, cooldown: Duration) = (5, .seconds(30)), generatedSPCParameters: Bool = false,
                     driftRepair: Bool = false, providerDirectory: String? = nil, cacheTTL: Duration = .milliseconds(1), apiExpires: Bool = false,
                     _ body: (Harness) async throws -> Void) async throws {
        try await KubeTestServer.with(.init(bookmarkInterval: .milliseconds(200))) { server in
            let config = try KubernetesConfiguration.kubeconfig(yaml: server.kubeconfig(), directory: "/", source: "test")
            let client = try KubernetesClient(configuration: config)
            let jwks = String(decoding: server.issuer.jwks.encoded(), as: UTF8.self)
            let seed = """
            tenantId: \(EmulatorFixture.tenant)
            vaults:
              - name: sync-kv
                secrets:
                  - {name: db, value: db-v1}
                  - {name: api, value: api-v1\(apiExpires ? ", expires: \"\(Self.apiExpiry)\"" : "")}
                certificates:
                  - {name: tls, subject: CN=web.test, issuer: Self, kty: EC, curve: P-256, contentType: application/x-pem-file}
            identities:
              - name: workload
                clientId: \(clientID)
                federatedCredentials:
                  - {issuer: "\(server.issuer.issuer)", subject: "system:serviceaccount:apps:web"}
                access: {sync-kv: read}
            issuers:
              - issuer: "\(server.issuer.issuer)"
                jwks: \(jwks)
            """
            do {
            try await EmulatorFixture.with(seed: seed) { emulator in
                _ = try await client.create(Namespace(name: "apps"))
                _ = try await client.create(ServiceAccount(metadata: ObjectMeta(name: "web", namespace: "apps")))
                var providerConfig = ProviderConfiguration(objectCacheTTL: cacheTTL)
                providerConfig.imdsEndpoint = emulator.emulator.imdsURL
                let statistics = SyncStatistics()
                // As the command wires it: the vault metrics in the controller's registry, told every reply.
                let vaultMetrics = VaultMetrics(registry: statistics.registry)
                let session = KeyVaultSession(transport: HTTPTransport(client: emulator.session.transport.client, observer: vaultMetrics))
                let source = AzureSecretSource(provider: AzureProvider(session: session, configuration: providerConfig, metrics: vaultMetrics))
                var logger = Logger(label: "akvs.sync-controller.test"); logger.logLevel = .critical
                var syncConfig = SyncConfiguration(pollInterval: pollInterval, enablePartialSecretSync: partial, workers: 2, podName: "akvs-sync", podUID: "uid-1", instance: "test")
                syncConfig.circuitBreakerThreshold = circuit.threshold
                syncConfig.circuitBreakerCooldown = circuit.cooldown
                syncConfig.driftRepair = driftRepair
                if generatedSPCParameters {
                    syncConfig.generatedSPCParameters = ["cloudName": "AzureStackCloud", "cloudEnvFileName": emulator.emulator.credentials.cloudEnvFile,
                                                         "tenantId": EmulatorFixture.tenant]
                }
                let routed: any SecretSource = providerDirectory.map {
                    ProviderRouter(azure: source, sockets: ProviderClients(searchPaths: [$0], timeout: .seconds(10), logger: logger))
                } ?? source
                let controller = SyncController(client: client, source: routed, configuration: syncConfig,
                                                hashKey: SymmetricKey(size: .bits256), statistics: statistics, logger: logger)
                let run = Task { if startController { await controller.run() } }
                let harness = Harness(server: server, client: client, emulator: emulator, statistics: statistics, source: source)
                do { try await body(harness) } catch { run.cancel(); _ = await run.value; throw error }
                run.cancel()
                _ = await run.value
            }
            } catch {
                await client.shutdown()
                throw error
            }
            await client.shutdown()
        }
    }

    /// Another controller replica on the same cluster and vault.
    func controller(statistics: SyncStatistics, pollInterval: Duration = .seconds(3600)) -> SyncController {
        var logger = Logger(label: "akvs.sync-controller.replica"); logger.logLevel = .critical
        return SyncController(client: client, source: source, configuration: .init(pollInterval: pollInterval, workers: 2, podName: "akvs-sync", podUID: "uid-2", instance: "replica"),
                              hashKey: SymmetricKey(size: .bits256), statistics: statistics, logger: logger)
    }

    func vaultAdmin() async throws -> KeyVaultClient { try await emulator.client("sync-kv", credential: try emulator.adminCredential()) }

    func createSPC(_ name: String = "vault", objects: [String] = ["db", "api"], extraObjects: [String] = []) async throws {
        let list = objects.map { "objectName: \($0)\nobjectType: secret" } + extraObjects
        let parameters = [
            "keyvaultName": "sync-kv", "tenantId": EmulatorFixture.tenant, "clientID": Self.clientID, "cloudName": "AzureStackCloud",
            "cloudEnvFileName": emulator.emulator.credentials.cloudEnvFile,
            "objects": "array:\n" + list.map { "  - |\n" + $0.split(separator: "\n").map { "    " + $0 }.joined(separator: "\n") + "\n" }.joined(),
        ]
        _ = try await client.create(SecretProviderClass(metadata: ObjectMeta(name: name, namespace: "apps"), spec: .init(provider: "azure", parameters: parameters)))
    }

    @discardableResult
    func createSync(_ name: String, items: [(String, String)], type: String? = nil, spc: String = "vault", serviceAccount: String = "web",
                    labels: [String: String]? = nil) async throws -> SecretSync {
        let spec = SecretSync.Spec(secretProviderClassName: spc, serviceAccountName: serviceAccount,
                                   secretObject: .init(type: type, data: items.map { .init(sourcePath: $0.0, targetKey: $0.1) }, labels: labels))
        return try await client.create(SecretSync(metadata: ObjectMeta(name: name, namespace: "apps"), spec: spec))
    }

    func sync(_ name: String) async throws -> SecretSync { try await client.get(SecretSync.self, name: name, namespace: "apps") }

    func secretValue(_ name: String, _ key: String) async -> String? {
        guard let secret = try? await client.get(Secret.self, name: name, namespace: "apps") else { return nil }
        return secret.data?[key].map { String(decoding: $0, as: UTF8.self) }
    }

    /// Waits until the SecretSync's condition of `type` has `reason`.
    @discardableResult
    func waitFor(_ name: String, _ type: String, reason: String, timeout: Duration = .seconds(15)) async throws -> SecretSync {
        let deadline = ContinuousClock.now + timeout
        var last: SecretSync?
        while ContinuousClock.now < deadline {
            last = try? await sync(name)
            if last?.status?.conditions?.first(where: { $0.type == type })?.reason == reason { return last! }
            try await Task.sleep(for: .milliseconds(25))
        }
        throw HarnessTimeout(description: "\(name): condition \(type) never reached \(reason); conditions: \(String(describing: last?.status?.conditions))")
    }
}

struct HarnessTimeout: Error, CustomStringConvertible { var description: String }
