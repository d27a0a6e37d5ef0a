import AsyncHTTPClient
import AzureProvider
import Crypto
import Foundation
import KeyVault
import Kubernetes
import Logging
import NIOCore
import NIOFoundationCompat
import NIOSSL
import SecretsStoreAPI
import StructuredJSON
import SyncController

/// 10,000 SecretSyncs in 1,000 namespaces over 2,000 unique Key Vault objects (each object referenced by
/// five SecretSyncs of its namespace), synced by one controller in this process against an
/// `akvs-kube-test-server` and an `akvs emulator` child process. Reports the first (creating) cycle, the
/// second (first poll), and the third (steady state): wall time, Key Vault GETs, Kubernetes writes, RSS.
struct SyncBenchmark {
    var namespaces = 1_000
    var syncsPerNamespace = 10
    var objectsPerNamespace = 2
    var pollSeconds = 60

    func run() async throws -> [String] {
        let work = FileManager.default.temporaryDirectory.appendingPathComponent("akvs-sync-bench-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: work, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: work) }

        let kube = try ChildProcess.start(ChildProcess.sibling("akvs-kube-test-server"), ["--state-dir", work.appendingPathComponent("kube").path],
                                          readyPrefix: "akvs kube-test-server ready")
        defer { kube.stop() }
        let config = try KubernetesConfiguration.kubeconfig(path: work.appendingPathComponent("kube/kubeconfig").path)
        let client = try KubernetesClient(configuration: config)
        let http = HTTPClient(eventLoopGroupProvider: .singleton)
        let issuer = config.server.absoluteString.trimmingCharacters(in: CharacterSet(charactersIn: "/"))
        let jwks = try await http.execute(HTTPClientRequest(url: issuer + "/openid/v1/jwks"), timeout: .seconds(10)).body.collect(upTo: 1 << 20)
        try? await http.shutdown()

        let clientID = "66666666-6666-4666-8666-666666666666"
        let emulator = try EmulatorProcess.start(work: work, seed: seed(issuer: issuer, jwks: String(buffer: jwks), clientID: clientID))
        defer { emulator.process.stop() }
        let credentials = emulator.credentials, caFile = emulator.caFile, admin = emulator.admin
        defer { Task { await admin.shutdown() } }

        let fillStart = ContinuousClock.now
        try await fill(client, cloudEnvFile: credentials["cloudEnvFile"]?.stringValue ?? "", tenant: credentials["tenantId"]?.stringValue ?? "", clientID: clientID)
        let fill = seconds(ContinuousClock.now - fillStart)

        let session = try KeyVaultSession.make(additionalCAFile: caFile)
        // Results are shared within one poll interval (DESIGN: one GET per credential, vault, object and version per poll).
        let provider = AzureProvider(session: session, configuration: ProviderConfiguration(objectCacheTTL: .seconds(pollSeconds - 5), objectCacheCapacity: 20_000))
        var logger = Logger(label: "akvs.sync-bench"); logger.logLevel = .error
        let statistics = SyncStatistics()
        let controller = SyncController(client: client, source: AzureSecretSource(provider: provider),
                                        configuration: .init(pollInterval: .seconds(pollSeconds), workers: 8, podName: "bench", podUID: "bench", instance: "bench"),
                                        hashKey: SymmetricKey(size: .bits256), statistics: statistics, logger: logger)
        let total = namespaces * syncsPerNamespace
        let rssBefore = rssMiB()
        _ = try await admin.reset()
        let start = ContinuousClock.now
        let run = Task { await controller.run() }

        // Cycle 1 is as fast as the controller goes; later cycles follow each SecretSync's own schedule
        // (its last sync + the poll interval), so their wall time mirrors cycle 1.
        var cycles: [(seconds: Double, gets: Int, tokens: Int, calls: Int, secretWrites: Int, statusWrites: Int, rss: Double)] = []
        var lastSecret = 0, lastStatus = 0, lastCalls = 0
        for cycle in 1...3 {
            let cycleStart = cycle == 1 ? start : start + .seconds(pollSeconds * (cycle - 1))
            while await statistics.reconciles < total * cycle { try await Task.sleep(for: .milliseconds(50)) }
            let counters = try await admin.reset()
            let s = await statistics.secretWrites, st = await statistics.statusWrites, calls = await statistics.providerCalls
            cycles.append((seconds(ContinuousClock.now - cycleStart), counters.gets, counters.tokens, calls - lastCalls, s - lastSecret, st - lastStatus, rssMiB()))
            lastSecret = s; lastStatus = st; lastCalls = calls
        }
        let results = await statistics.results
        run.cancel()
        await run.value
        try? await session.shutdown()
        await client.shutdown()

        var lines = [
            "### SecretSync controller (\(total) SecretSyncs, \(namespaces) namespaces, \(namespaces * objectsPerNamespace) objects, 8 workers)",
            "",
            String(format: "Filling the test server: %.1f s. Controller RSS before start: %.1f MiB.", fill, rssBefore),
            "",
            "| cycle | wall s (2, 3: paced by the schedule) | provider calls | Key Vault GETs | Entra token requests | Secret writes | status writes | controller RSS MiB |",
            "|---|---:|---:|---:|---:|---:|---:|---:|",
        ]
        let names = ["1 (create)", "2 (poll, unchanged)", "3 (poll, unchanged)"]
        for (i, c) in cycles.enumerated() {
            lines.append(String(format: "| %@ | %.1f | %d | %d | %d | %d | %d | %.1f |", names[i], c.seconds, c.calls, c.gets, c.tokens, c.secretWrites, c.statusWrites, c.rss))
        }
        lines.append("")
        lines.append("Reconcile results: " + results.sorted { $0.key < $1.key }.map { "\($0.key) \($0.value)" }.joined(separator: ", "))
        lines.append("")
        return lines
    }

    func seed(issuer: String, jwks: String, clientID: String) -> String {
        var lines = ["vaults:", "  - name: bench-kv", "    secrets:"]
        for i in 0..<(namespaces * objectsPerNamespace) { lines.append("      - {name: s-\(i), value: value-\(i)}") }
        lines += ["identities:", "  - name: sync", "    clientId: \(clientID)", "    access: {bench-kv: read}", "    federatedCredentials:"]
        for n in 0..<namespaces { lines.append("      - {issuer: \"\(issuer)\", subject: \"system:serviceaccount:ns-\(n):sync\"}") }
        lines += ["issuers:", "  - issuer: \"\(issuer)\"", "    jwks: \(jwks)"]
        return lines.joined(separator: "\n") + "\n"
    }

    func fill(_ client: KubernetesClient, cloudEnvFile: String, tenant: String, clientID: String) async throws {
        let namespaces = self.namespaces, perNamespace = syncsPerNamespace, objects = objectsPerNamespace
        try await forEachConcurrently(0..<namespaces, width: 16) { n in
            let ns = "ns-\(n)"
            _ = try await client.create(Namespace(name: ns))
            _ = try await client.create(ServiceAccount(metadata: ObjectMeta(name: "sync", namespace: ns)))
            let list = (0..<objects).map { "  - |\n    objectName: s-\(n * objects + $0)\n    objectType: secret\n" }.joined()
            _ = try await client.create(SecretProviderClass(metadata: ObjectMeta(name: "vault", namespace: ns), spec: .init(provider: "azure", parameters: [
                "keyvaultName": "bench-kv", "tenantId": tenant, "clientID": clientID, "cloudName": "AzureStackCloud", "cloudEnvFileName": cloudEnvFile,
                "objects": "array:\n" + list,
            ])))
            for j in 0..<perNamespace {
                let object = "s-\(n * objects + j % objects)"
                _ = try await client.create(SecretSync(metadata: ObjectMeta(name: "sync-\(j)", namespace: ns), spec: .init(
                    secretProviderClassName: "vault", serviceAccountName: "sync", secretObject: .init(data: [.init(sourcePath: object, targetKey: "value")]))))
            }
        }
    }
}

/// The emulator's request counters (GETs on the vault, token requests), read and reset over its admin API.
struct AdminCounters {
    let base: String
    let http: HTTPClient

    init(base: String, caFile: String) throws {
        var tls = TLSConfiguration.makeClientConfiguration()
        tls.trustRoots = .file(caFile)
        http = HTTPClient(eventLoopGroupProvider: .singleton, configuration: .init(tlsConfiguration: tls))
        self.base = base
    }

    /// Returns the counts since the last reset, then resets.
    func reset() async throws -> (gets: Int, tokens: Int) {
        let body = try await http.execute(HTTPClientRequest(url: base + "/counters"), timeout: .seconds(30)).body.collect(upTo: 16 << 20)
        let json = try JSONValue.parse(Data(buffer: body))
        var request = HTTPClientRequest(url: base + "/counters")
        request.method = .DELETE
        _ = try await http.execute(request, timeout: .seconds(30))
        let gets = Int(json[path: ["vaults", "bench-kv", "total"]]?.numberValue ?? 0)
        let tokens = Int(json[path: ["token", "total"]]?.numberValue ?? 0)
        return (gets, tokens)
    }

    func shutdown() async { try? await http.shutdown() }
}
