import AzureIdentity
import Foundation
import KeyVault
import Kubernetes
import SecretsStoreAPI

/// `akvs-kube-bench chaos --minutes N --seed S`: every role as its own process (emulator with two vaults,
/// test server, provider, CSI driver, two leader-elected sync controllers), a writer rotating values, and a
/// seeded schedule of overlapping faults; invariants are checked every second and counted. The last line
/// is `chaos: N faults injected, M violations`.
struct ChaosBenchmark {
    var minutes = 3
    var seed: UInt64 = 1
    /// Settings of the system under test (the report quotes them).
    var syncPoll = 15, syncJitter = 5, syncCacheTTL = 10, syncBudget = 20
    var rotation = 10, republish = 3, providerCacheTTL = 5
    /// Longest pause a component adds after failures (the sync controller's circuit breaker cap).
    var backoffCap = 300

    static func parse(_ args: [String]) throws -> ChaosBenchmark {
        var bench = ChaosBenchmark()
        var i = 0
        while i < args.count {
            let value = i + 1 < args.count ? args[i + 1] : ""
            switch args[i] {
            case "--minutes": guard let m = Int(value), m >= 1 else { throw BenchError("--minutes '\(value)' must be a whole number ≥ 1") }; bench.minutes = m
            case "--seed": guard let s = UInt64(value) else { throw BenchError("--seed '\(value)' must be a non-negative integer") }; bench.seed = s
            default: throw BenchError("unknown chaos argument '\(args[i])'; use --minutes N --seed S")
            }
            i += 2
        }
        return bench
    }

    /// Budget of Key Vault requests in any one second per vault: the controller's budget and its burst (a token
    /// bucket allows both in one second), plus each CSI volume's provider call per rotation interval (every
    /// object, every attempt), plus the writer's one per second.
    var vaultBudget: Double {
        let world = ChaosWorld()
        return Double(2 * syncBudget) + csiBudget(world) + 1
    }

    func csiBudget(_ world: ChaosWorld) -> Double {
        let volumesPerVault = Double(world.volumes.count) / 2, objectsPerVolume = Double(world.volumes.first?.objects.count ?? 1)
        return volumesPerVault * objectsPerVolume * Double(RetryPolicy.default.maxAttempts) / Double(rotation)
    }

    /// How far behind the vault a consumer may be with nothing failing.
    var syncLag: Duration { .seconds(syncPoll + syncJitter + syncCacheTTL + 5) }
    var volumeLag: Duration { .seconds(rotation + republish + providerCacheTTL + 5) }

    func run() async throws -> (lines: [String], faults: Int, violations: Int) {
        guard getuid() == 0 else { throw BenchError("the chaos run mounts tmpfs volumes: run it as root") }
        let started = ContinuousClock.now
        let work = URL(fileURLWithPath: "/tmp/akvs-chaos-\(seed)-\(UUID().uuidString.prefix(8))")
        let logs = work.appendingPathComponent("logs")
        try FileManager.default.createDirectory(at: logs, withIntermediateDirectories: true)
        try FileManager.default.createDirectory(at: work.appendingPathComponent("providers"), withIntermediateDirectories: true)
        let akvs = ChildProcess.sibling("akvs")
        let world = ChaosWorld()
        let recorder = ChaosRecorder()
        let ledger = ChaosLedger(seed: seed)

        let kube = ManagedProcess(name: "kube-test-server", binary: ChildProcess.sibling("akvs-kube-test-server"),
                                  arguments: ["--state-dir", work.appendingPathComponent("kube").path], readyMarker: "akvs kube-test-server ready", logDirectory: logs)
        try await kube.start()
        let kubeconfig = work.appendingPathComponent("kube/kubeconfig").path
        let config = try KubernetesConfiguration.kubeconfig(path: kubeconfig)
        let client = try KubernetesClient(configuration: config)
        let apiBase = config.server.absoluteString.trimmingCharacters(in: CharacterSet(charactersIn: "/"))
        let plain = ChaosHTTP(caFile: "/dev/null")
        let jwks = try await plain.call(.GET, apiBase + "/openid/v1/jwks").body
        await plain.shutdown()

        let values = await ChaosWriter.initialValues(world: world, ledger: ledger)
        let seedFile = work.appendingPathComponent("seed.yaml")
        try world.seed(values: values, issuer: apiBase, jwks: jwks).write(to: seedFile, atomically: true, encoding: .utf8)
        let emulator = ManagedProcess(name: "emulator", binary: akvs, arguments: ["emulator", "--listen", "127.0.0.1:0", "--state-dir", work.appendingPathComponent("emu").path,
                                                                                 "--seed", seedFile.path], readyMarker: "akvs emulator ready", logDirectory: logs)
        try await emulator.start()
        let credentials = try JSONSerialization.jsonObject(with: Data(contentsOf: work.appendingPathComponent("emu/credentials.json"))) as? [String: Any] ?? [:]
        func credential(_ key: String) -> String { credentials[key] as? String ?? "" }
        let caFile = credential("caFile"), cloudEnvFile = credential("cloudEnvFile"), tenant = credential("tenantId")
        let http = ChaosHTTP(caFile: caFile)
        let apiToken = "test-admin-token"

        try await fill(client, world: world, tenant: tenant, cloudEnvFile: cloudEnvFile)

        // The system under test.
        let providerMetrics = try freePort(), driverMetrics = try freePort()
        let provider = ManagedProcess(name: "provider", binary: akvs, arguments: [
            "provider", "--endpoint", "unix://\(work.appendingPathComponent("providers/azure.sock").path)", "--healthz-port", "0",
            "--prometheus-port", "\(providerMetrics)", "--ca-file", caFile, "--object-cache-ttl", "\(providerCacheTTL)", "--log-level", "info"],
            readyMarker: "akvs provider ready", logDirectory: logs)
        let socket = work.appendingPathComponent("csi.sock").path
        let driver = ManagedProcess(name: "csi-driver", binary: akvs, arguments: [
            "csi-driver", "--endpoint", "unix://\(socket)", "--nodeid", "chaos-node", "--provider-volume", work.appendingPathComponent("providers").path,
            "--additional-provider-volume-paths", work.appendingPathComponent("none").path, "--kubeconfig", kubeconfig,
            "--enable-secret-rotation", "true", "--rotation-poll-interval", "\(rotation)s", "--stale-store-dir", work.appendingPathComponent("last-good").path,
            "--metrics-addr", "127.0.0.1:\(driverMetrics)", "--health-addr", "127.0.0.1:\(try freePort())", "--log-level", "info"],
            readyMarker: "akvs csi-driver ready", logDirectory: logs)
        var controllers: [ManagedProcess] = [], controllerMetrics: [String] = []
        for i in 0..<2 {
            let port = try freePort()
            controllerMetrics.append("http://127.0.0.1:\(port)/metrics")
            controllers.append(ManagedProcess(name: "sync-controller-\(i)", binary: akvs, arguments: [
                "sync-controller", "--kubeconfig", kubeconfig, "--rotation-poll-interval", "\(syncPoll)s", "--jitter-seconds", "\(syncJitter)",
                "--leader-elect", "--leader-election-namespace", "default", "--metrics-bind-address", "127.0.0.1:\(port)",
                "--health-probe-bind-address", "127.0.0.1:\(try freePort())", "--ca-file", caFile, "--object-cache-ttl", "\(syncCacheTTL)",
                "--vault-requests-per-second", "\(syncBudget)", "--log-level", "info"],
                readyMarker: "akvs sync-controller starting", logDirectory: logs))
        }
        for p in [provider, driver] + controllers { try await p.start() }
        let productLogs = [provider, driver] + controllers
        var logFiles: [URL] = []
        for p in productLogs { logFiles.append(p.logFile) }

        let metricsURLs = ["http://127.0.0.1:\(providerMetrics)/metrics", "http://127.0.0.1:\(driverMetrics)/metrics"] + controllerMetrics
        let apiURLs = ["/api/v1/events", "/apis/secret-sync.x-k8s.io/v1alpha1/secretsyncs", "/apis/secrets-store.csi.x-k8s.io/v1/secretproviderclasspodstatuses"].map { apiBase + $0 }
        let leaks = LeakScanner(logFiles: logFiles, metricsURLs: metricsURLs, apiURLs: apiURLs, apiToken: apiToken, http: http, recorder: recorder)
        let kubelet = ChaosKubelet(socket: socket, root: work, world: world, recorder: recorder, leaks: leaks)
        var pending = world.volumes.map(\.index)
        for _ in 0..<30 where !pending.isEmpty {
            pending = await kubelet.publishAll(only: pending)
            if !pending.isEmpty { try await Task.sleep(for: .seconds(1)) }
        }
        guard pending.isEmpty else { throw BenchError("\(pending.count) volumes could not be published before the faults; see \(logs.path)") }
        let restarts = OutageRestarts(world: world, kubelet: kubelet, ledger: ledger, recorder: recorder, providerCache: .seconds(providerCacheTTL + 2))
        try await restarts.prepare()

        let consumers = ConsumerState()
        let secrets = SecretChecker(world: world, client: client, ledger: ledger, recorder: recorder, consumers: consumers, lag: syncLag)
        var seen: Set<String> = [], last: [String: Int] = [:]
        let firstSync = ContinuousClock.now
        while (await secrets.check(&seen, &last) ?? 0) < world.syncs.count {
            guard ContinuousClock.now - firstSync < .seconds(180) else { throw BenchError("the first sync did not create every Secret within 180 s; see \(logs.path)") }
            try await Task.sleep(for: .seconds(1))
        }
        let setup = ContinuousClock.now - started

        // Key Vault clients for the writer: the emulator's admin identity (it may write every vault), no retries.
        var session = try KeyVaultSession.make(additionalCAFile: caFile)
        session.retry = .none
        let cloud = try AzureCloud.load(environmentFile: cloudEnvFile)
        let owner = try ClientSecretCredential(tenantID: tenant, clientID: credential("clientId"), clientSecret: credential("clientSecret"),
                                               cloud: cloud, transport: session.transport, retry: .none)
        var vaultClients: [String: KeyVaultClient] = [:]
        for vault in ChaosWorld.vaults { vaultClients[vault] = try await session.client(vault: vault, cloud: cloud, credential: owner) }
        let writer = ChaosWriter(world: world, ledger: ledger, clients: vaultClients, seed: seed)
        let watch = ControllerWatch(metricsURLs: controllerMetrics, http: http, recorder: recorder)
        let injector = FaultInjector(targets: .init(emulatorAdmin: credential("adminEndpoint"), testServer: apiBase, apiToken: apiToken, issuer: apiBase,
                                                    provider: provider, driver: driver, controllers: controllers),
                                     world: world, http: http, recorder: recorder, writer: writer, controllerWatch: watch, restarts: restarts)
        let rates = VaultRateMonitor(countersURL: credential("adminEndpoint") + "/counters", http: http, recorder: recorder, budget: vaultBudget)

        let phase = max(60, minutes * 60 - 75)
        var random = ChaosRandom(seed: seed)
        let plan = chaosSchedule(phase: phase, random: &random)
        let phaseStart = ContinuousClock.now
        let phaseEnd = phaseStart + .seconds(phase)
        let volumeLag = self.volumeLag
        let expectedConsumers = world.volumes.reduce(0) { $0 + $1.objects.count } + world.syncs.reduce(0) { $0 + $1.keys.count }

        var convergence: (recovered: Duration?, worst: Duration, behind: Int) = (nil, .zero, 0)
        let bound = Duration.seconds(syncPoll + syncJitter + syncCacheTTL + backoffCap)
        await withTaskGroup(of: Void.self) { checkers in
            for v in world.volumes {
                let reader = VolumeReader(volume: v, target: kubelet.target(v), world: world, ledger: ledger, recorder: recorder, consumers: consumers, lag: volumeLag)
                checkers.addTask { await reader.run() }
            }
            checkers.addTask { await secrets.run() }
            checkers.addTask { await watch.run() }
            checkers.addTask { await rates.run() }
            checkers.addTask { await leaks.run(every: .seconds(30)) }
            checkers.addTask { await kubelet.republish(every: .seconds(3)) }
            checkers.addTask {
                // kubelet's restart of containers that exited by themselves (restartPolicy Always, ~1 s back-off).
                while !Task.isCancelled {
                    try? await Task.sleep(for: .seconds(1))
                    for p in productLogs {
                        if await p.superviseOnce() { await recorder.note("\(p.name) exited by itself and was restarted (as kubelet does)") }
                    }
                }
            }
            checkers.addTask {
                while !Task.isCancelled {
                    _ = await sampleFreshness(consumers: consumers, ledger: ledger, recorder: recorder, expected: expectedConsumers)
                    try? await Task.sleep(for: .seconds(1))
                }
            }
            // The fault phase: the writer and every planned fault, each at its time.
            await withTaskGroup(of: Void.self) { phaseTasks in
                phaseTasks.addTask { await writer.run(every: .seconds(1), until: phaseEnd) }
                for fault in plan {
                    phaseTasks.addTask {
                        try? await Task.sleep(until: phaseStart + .seconds(fault.start))
                        await injector.run(fault)
                    }
                }
            }
            await injector.clearAll()
            await writer.settle()
            // Convergence: every consumer at the latest generation, within poll + jitter + cache + backoff cap.
            let quiet = ContinuousClock.now
            while ContinuousClock.now - quiet < bound {
                let (worst, _, behind) = await sampleFreshness(consumers: consumers, ledger: ledger, recorder: recorder, expected: expectedConsumers)
                convergence = (nil, worst, behind)
                if behind == 0, await consumers.count >= expectedConsumers { convergence.recovered = ContinuousClock.now - quiet; break }
                try? await Task.sleep(for: .seconds(1))
            }
            checkers.cancelAll()
        }
        await recorder.checked(.convergence)
        if convergence.recovered == nil {
            await recorder.violation(.convergence, String(format: "%d consumers still behind %.0f s after the faults ended (worst %.0f s behind; bound %.0f s)",
                                                          convergence.behind, seconds(bound), seconds(convergence.worst), seconds(bound)))
        }
        await leaks.scan()

        await kubelet.unpublishAll()
        await restarts.unpublishAll()
        for p in controllers + [driver, provider, emulator, kube] { await p.terminate() }
        ChaosKubelet.lazyUnmount(work.appendingPathComponent("last-good").path)
        try? await session.shutdown()
        await client.shutdown()
        await http.shutdown()

        let report = ChaosReport(bench: self, recorder: recorder, plan: plan, setup: setup, total: ContinuousClock.now - started,
                                 convergence: convergence.recovered, world: world, writes: await writer.writes, writeFailures: await writer.failures,
                                 scannedBytes: await leaks.scannedBytes)
        let lines = await report.lines()
        FileHandle.standardError.write(Data(("Fault timeline (seconds since start):\n" + (await recorder.timeline()).joined(separator: "\n") + "\n").utf8))
        let violations = await recorder.totalViolations
        if violations == 0 { try? FileManager.default.removeItem(at: work) } else { print("logs kept in \(logs.path)") }
        return (lines, await recorder.faults.count, violations)
    }

    func fill(_ client: KubernetesClient, world: ChaosWorld, tenant: String, cloudEnvFile: String) async throws {
        for n in 0..<world.namespaces {
            let ns = "chaos-\(n)"
            _ = try await client.create(Namespace(name: ns))
            for sa in 0..<ChaosWorld.serviceAccounts { _ = try await client.create(ServiceAccount(metadata: ObjectMeta(name: "sa-\(sa)", namespace: ns))) }
        }
        func classParameters(vault: String, objects: [Int]) -> [String: String] {
            ["keyvaultName": vault, "tenantId": tenant, "cloudName": "AzureStackCloud", "cloudEnvFileName": cloudEnvFile,
             "objects": "array:\n" + objects.map { "  - |\n    objectName: \(world.objects[$0].name)\n    objectType: secret\n" }.joined()]
        }
        for c in world.classes {
            var parameters = classParameters(vault: c.vault, objects: c.objects)
            if let id = c.clientID { parameters["clientID"] = id }
            _ = try await client.create(SecretProviderClass(metadata: ObjectMeta(name: c.name, namespace: c.namespace), spec: .init(provider: "azure", parameters: parameters)))
        }
        for c in world.restartClasses {
            let parameters = classParameters(vault: c.vault, objects: c.objects)
            let annotations = c.serveStale ? ["akvs.io/serve-stale-on-outage": "\(Int(seconds(OutageRestarts.limit)))s"] : nil
            _ = try await client.create(SecretProviderClass(metadata: ObjectMeta(name: c.name, namespace: c.namespace, annotations: annotations),
                                                            spec: .init(provider: "azure", parameters: parameters)))
        }
        let syncs = world.syncs
        try await forEachConcurrently(0..<syncs.count, width: 16) { i in
            let s = syncs[i]
            _ = try await client.create(SecretSync(metadata: ObjectMeta(name: s.name, namespace: s.namespace), spec: .init(
                secretProviderClassName: s.spc, serviceAccountName: "sa-\(s.serviceAccount)",
                secretObject: .init(type: s.tls ? "kubernetes.io/tls" : "Opaque", data: s.keys.map { .init(sourcePath: world.objects[$0.object].name, targetKey: $0.key) }))))
        }
    }
}
