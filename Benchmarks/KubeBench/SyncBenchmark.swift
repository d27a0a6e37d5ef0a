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
/// `akvs-kube-test-server` and an `akvs emulator` child process, with the product's per-vault request budget.
/// Reports the first (creating) cycle and unchanged polls: wall time, CPU, Key Vault GETs (and the most in any
/// 10 s), Kubernetes requests as the test server counted them, memory per SecretSync beyond the informer's copy.
/// Progress goes to stderr every 10 s.
struct SyncBenchmark {
    var namespaces = 1_000
    var syncsPerNamespace = 10
    var objectsPerNamespace = 2
    var pollSeconds = 60
    /// The first cycle and one unchanged poll only. Meant with a poll interval shorter than cycle 1: new
    /// SecretSyncs go ahead of periodic refreshes, so the poll starts when cycle 1 ends and runs as fast as the
    /// controller goes instead of following the schedule (the steady-state cost of a poll, without the wait).
    var steady = false
    var jitterSeconds = 0
    /// As `akvs sync-controller --vault-requests-per-second` (default 300, burst 300).
    var vaultRequestsPerSecond = 300.0

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

        let total = namespaces * syncsPerNamespace
        let fillStart = ContinuousClock.now
        try await fill(client, cloudEnvFile: credentials["cloudEnvFile"]?.stringValue ?? "", tenant: credentials["tenantId"]?.stringValue ?? "", clientID: clientID)
        let fill = seconds(ContinuousClock.now - fillStart)

        let limiters = VaultLimiters(requestsPerSecond: vaultRequestsPerSecond > 0 ? vaultRequestsPerSecond : nil,
                                     burst: vaultRequestsPerSecond > 0 ? Int(vaultRequestsPerSecond) : nil)
        // The product's metrics, on one registry as `akvs sync-controller` has them (their cardinality is reported).
        let statistics = SyncStatistics()
        let vaultMetrics = VaultMetrics(registry: statistics.registry, retention: .seconds(max(24 * 3600, 2 * pollSeconds)))
        let session = try KeyVaultSession.make(additionalCAFile: caFile, limiters: limiters, observer: vaultMetrics)
        // Results are shared within one poll interval (DESIGN: one GET per credential, vault, object and version per poll).
        let provider = AzureProvider(session: session, configuration: ProviderConfiguration(objectCacheTTL: .seconds(max(1, pollSeconds - 5)),
                                                                                              objectCacheCapacity: 2 * namespaces * objectsPerNamespace),
                                     metrics: vaultMetrics)
        var logger = Logger(label: "akvs.sync-bench"); logger.logLevel = .error
        var controller = SyncController(client: client, source: AzureSecretSource(provider: provider),
                                        configuration: .init(pollInterval: .seconds(pollSeconds), jitterSeconds: jitterSeconds, workers: 8,
                                                             podName: "bench", podUID: "bench", instance: "bench"),
                                        hashKey: SymmetricKey(size: .bits256), statistics: statistics, logger: logger)
        controller.vaultLimiters = limiters
        let rssBefore = rssMiB()
        _ = try await admin.reset()
        _ = try await KubeRequests.take(client)
        let vault = VaultWindows(admin: admin)
        let start = ContinuousClock.now
        let cpuStart = cpuSeconds()
        let run = Task { await controller.run() }
        let cycleCount = steady ? 2 : 3
        let progress = Task {
            while !Task.isCancelled {
                try? await Task.sleep(for: .seconds(10))
                let window = (try? await vault.sample()) ?? 0
                let done = await statistics.reconciles
                let elapsed = seconds(ContinuousClock.now - start)
                FileHandle.standardError.write(Data(String(format: "[%6.0f s] reconciles %d of %d (%.0f/s), CPU %.1f s, RSS %.1f MiB, Key Vault GETs last window %d\n",
                                                           elapsed, done, total * cycleCount, Double(done) / max(elapsed, 0.001), cpuSeconds() - cpuStart, rssMiB(), window).utf8))
            }
        }

        // Cycle 1 is as fast as the controller goes; later cycles follow each SecretSync's own schedule (its last
        // sync + the poll interval), or in steady mode start as soon as cycle 1 is done.
        struct Cycle { var seconds, cpu: Double; var gets, tokens, calls: Int; var requests: KubeRequests; var rss: Double }
        var cycles: [Cycle] = []
        var lastCalls = 0, lastCPU = cpuStart, cycleStart = start
        for cycle in 1...cycleCount {
            if !steady && cycle > 1 { cycleStart = start + .seconds(pollSeconds * (cycle - 1)) }
            while await statistics.reconciles < total * cycle { try await Task.sleep(for: .milliseconds(50)) }
            let end = ContinuousClock.now
            _ = try await vault.sample()
            let counts = await vault.takeTotals()
            let calls = await statistics.providerCalls, cpu = cpuSeconds()
            cycles.append(Cycle(seconds: seconds(end - cycleStart), cpu: cpu - lastCPU, gets: counts.gets, tokens: counts.tokens, calls: calls - lastCalls,
                                requests: try await KubeRequests.take(client), rss: rssMiB()))
            lastCalls = calls; lastCPU = cpu; cycleStart = end
        }
        progress.cancel()
        let results = await statistics.results
        let exposition = statistics.render()
        let series = exposition.split(separator: "\n").filter { !$0.hasPrefix("#") && !$0.isEmpty }
        var families: [String: Int] = [:]
        for line in series { families[String(line.prefix { $0 != "{" && $0 != " " }), default: 0] += 1 }
        let windows = await vault.windows
        run.cancel()
        await run.value
        let rssAfter = rssMiB()
        // The informer's own copy of the synced SecretSyncs and SPCs, measured by listing them again into a fresh one.
        let probeBefore = rssMiB()
        let probe = Informer<SecretSync>(client: client, logger: logger), probeClasses = Informer<SecretProviderClass>(client: client, logger: logger)
        let probing = Task { await withDiscardingTaskGroup { g in g.addTask { await probe.run() }; g.addTask { await probeClasses.run() } } }
        await probe.waitForSync(); await probeClasses.waitForSync()
        let informerCopy = rssMiB() - probeBefore
        probing.cancel()
        try? await session.shutdown()
        await client.shutdown()

        let budget = vaultRequestsPerSecond > 0 ? String(format: "%.0f requests/s, burst %.0f", vaultRequestsPerSecond, vaultRequestsPerSecond) : "none"
        var lines = [
            "### SecretSync controller (\(total) SecretSyncs, \(namespaces) namespaces, \(namespaces * objectsPerNamespace) objects, 8 workers\(steady ? ", steady mode" : ""))",
            "",
            String(format: "Filling the test server: %.1f s. Controller RSS before start: %.1f MiB. Poll interval %d s, jitter %d s, per-vault budget %@.", fill, rssBefore, pollSeconds, jitterSeconds, budget),
            "",
            "| cycle | wall s | CPU s | CPU ms per SecretSync | provider calls | Key Vault GETs | Entra token requests | Secret writes | status writes | Events | other writes | 4xx/5xx | controller RSS MiB |",
            "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
        ]
        let names = steady ? ["1 (create)", "2 (poll, unchanged, not paced)"] : ["1 (create)", "2 (poll, unchanged)", "3 (poll, unchanged)"]
        for (i, c) in cycles.enumerated() {
            let r = c.requests
            let secretWrites = r.writes("secrets"), status = r.writes("secretsyncs/status"), events = r.writes("events")
            let other = r.writes() - secretWrites - status - events - r.writes("serviceaccounts/token") - r.writes("leases")
            lines.append(String(format: "| %@ | %.1f | %.1f | %.2f | %d | %d | %d | %d | %d | %d | %d | %d | %.1f |", names[i], c.seconds, c.cpu, c.cpu * 1000 / Double(total),
                                c.calls, c.gets, c.tokens, secretWrites, status, events, other, r.failed, c.rss))
        }
        let busiest = windows.filter { $0.seconds >= 5 }.map { Double($0.gets) * 10 / $0.seconds }.max() ?? 0
        lines += [
            "",
            "Kubernetes writes as the test server counted them: " + cycles.enumerated().map { "cycle \($0.offset + 1): \($0.element.requests.summary.isEmpty ? "none" : $0.element.requests.summary)" }.joined(separator: "; "),
            "",
            String(format: "Key Vault GETs in the busiest 10 s: %.0f (Key Vault allows 4,000 per 10 s per vault). Windows sampled: %d.", busiest, windows.count),
            "",
            String(format: "Memory: controller RSS %.1f MiB before start, %.1f MiB after the last cycle (+%.1f MiB); a fresh informer's copy of the same SecretSyncs and SPCs: +%.1f MiB; beyond it: %.2f KiB per SecretSync (provider cache of %d objects included).",
                   rssBefore, rssAfter, rssAfter - rssBefore, informerCopy, (rssAfter - rssBefore - informerCopy) * 1024 / Double(total), namespaces * objectsPerNamespace),
            "",
            String(format: "Metrics: %d series, %.1f KiB of /metrics text (%.2f series per SecretSync). Largest families: %@.", series.count, Double(exposition.utf8.count) / 1024,
                   Double(series.count) / Double(total), families.sorted { $0.value > $1.value }.prefix(6).map { "\($0.key) \($0.value)" }.joined(separator: ", ")),
            "",
            "Reconcile results: " + results.sorted { $0.key < $1.key }.map { "\($0.key) \($0.value)" }.joined(separator: ", "),
            "",
        ]
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
        let start = ContinuousClock.now
        try await forEachConcurrently(0..<namespaces, width: 16) { n in
            if n > 0 && n % 1000 == 0 {
                FileHandle.standardError.write(Data(String(format: "[fill %5.0f s] namespace %d of %d\n", seconds(ContinuousClock.now - start), n, namespaces).utf8))
            }
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

/// Key Vault GETs per sampling window (the emulator's counters, read and reset), and totals since the last take.
actor VaultWindows {
    let admin: AdminCounters
    var windows: [(seconds: Double, gets: Int)] = []
    var gets = 0, tokens = 0
    var last = ContinuousClock.now
    init(admin: AdminCounters) { self.admin = admin }

    /// Reads and resets the emulator's counters; returns the GETs of this window.
    func sample() async throws -> Int {
        let counts = try await admin.reset()
        let now = ContinuousClock.now
        windows.append((seconds(now - last), counts.gets))
        last = now
        gets += counts.gets; tokens += counts.tokens
        return counts.gets
    }

    func takeTotals() -> (gets: Int, tokens: Int) {
        defer { gets = 0; tokens = 0 }
        return (gets, tokens)
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
