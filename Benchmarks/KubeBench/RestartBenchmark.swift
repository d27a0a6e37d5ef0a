import AzureIdentity
import Foundation
import KeyVault
import Kubernetes
import SecretsStoreAPI
import StructuredJSON

/// `akvs-kube-bench restart [deployments] [syncs] [rotated]`: 500 Deployments annotated `reloader.stakater.com/auto`
/// over the Secrets of 200 SecretSyncs, synced by `akvs sync-controller` and watched by `akvs restarter` (both child
/// processes, with an `akvs-kube-test-server` and an `akvs emulator`); 50 vault secrets change in one burst. Reports
/// the restarts (exactly the Deployments that read a changed Secret, each once), the time from the vault change to
/// each restart patch against poll + jitter + debounce, and the restarter's CPU and memory per annotated workload.
struct RestartBenchmark {
    var deployments = 500
    var syncs = 200
    var rotated = 50
    var namespaces = 10
    var poll = 10, jitter = 2, debounce = 5

    func run() async throws -> [String] {
        let work = FileManager.default.temporaryDirectory.appendingPathComponent("akvs-restart-bench-\(UUID().uuidString.prefix(8))")
        try FileManager.default.createDirectory(at: work, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: work) }
        let kube = try ChildProcess.start(ChildProcess.sibling("akvs-kube-test-server"), ["--state-dir", work.appendingPathComponent("kube").path],
                                          readyPrefix: "akvs kube-test-server ready")
        defer { kube.stop() }
        let kubeconfig = work.appendingPathComponent("kube/kubeconfig").path
        let config = try KubernetesConfiguration.kubeconfig(path: kubeconfig)
        let client = try KubernetesClient(configuration: config)
        let issuer = config.server.absoluteString.trimmingCharacters(in: CharacterSet(charactersIn: "/"))
        let plain = ChaosHTTP(caFile: "/dev/null")
        let jwks = try await plain.call(.GET, issuer + "/openid/v1/jwks").body
        await plain.shutdown()
        let clientID = "68686868-6868-4686-8686-686868686868"
        let emulator = try EmulatorProcess.start(work: work, seed: seed(issuer: issuer, jwks: jwks, clientID: clientID))
        defer { emulator.process.stop() }
        do {
            let lines = try await measure(client: client, kubeconfig: kubeconfig, emulator: emulator, clientID: clientID)
            await emulator.admin.shutdown()
            await client.shutdown()
            return lines
        } catch {
            await emulator.admin.shutdown()
            await client.shutdown()
            throw error
        }
    }

    func measure(client: KubernetesClient, kubeconfig: String, emulator: EmulatorProcess, clientID: String) async throws -> [String] {
        let credentials = emulator.credentials
        func credential(_ key: String) -> String { credentials[key]?.stringValue ?? "" }

        try await fillSyncs(client, tenant: credential("tenantId"), cloudEnvFile: credential("cloudEnvFile"), clientID: clientID)
        let akvs = ChildProcess.sibling("akvs")
        let controller = try ChildProcess.start(akvs, ["sync-controller", "--kubeconfig", kubeconfig, "--ca-file", emulator.caFile,
                                                       "--rotation-poll-interval", "\(poll)s", "--jitter-seconds", "\(jitter)", "--object-cache-ttl", "0",
                                                       "--metrics-bind-address", "127.0.0.1:\(try freePort())", "--health-probe-bind-address", "127.0.0.1:\(try freePort())",
                                                       "--log-level", "error"], readyPrefix: "akvs sync-controller starting")
        defer { controller.stop() }
        try await waitFor("every SecretSync's Secret", timeout: .seconds(300)) {
            (try await client.listAll(Secret.self, namespace: nil, labelSelector: "secrets-store.sync.x-k8s.io").items.count) >= syncs
        }
        let metricsPort = try freePort()
        let restarter = try ChildProcess.start(akvs, ["restarter", "--kubeconfig", kubeconfig, "--restart-debounce", "\(debounce)s",
                                                      "--metrics-bind-address", "127.0.0.1:\(metricsPort)", "--health-probe-bind-address", "127.0.0.1:\(try freePort())",
                                                      "--log-level", "error"], readyPrefix: "akvs restarter starting")
        defer { restarter.stop() }
        let pid = restarter.process.processIdentifier
        try await Task.sleep(for: .seconds(3))
        let idleRSS = rss(pid), idleCPU = cpuSeconds(pid)

        // The Deployments: each reads one Secret of its namespace, every third a second one.
        let consumers = try await fillDeployments(client)
        let baselineStart = ContinuousClock.now
        try await waitFor("every Deployment's recorded inputs", timeout: .seconds(300)) {
            try await recorded(client) >= deployments
        }
        let baseline = seconds(ContinuousClock.now - baselineStart)
        try await Task.sleep(for: .seconds(3))
        let loadedRSS = rss(pid), loadedCPU = cpuSeconds(pid)

        // The burst: `rotated` vault secrets change at once.
        var session = try KeyVaultSession.make(additionalCAFile: emulator.caFile)
        session.retry = .none
        let cloud = try AzureCloud.load(environmentFile: credential("cloudEnvFile"))
        let owner = try ClientSecretCredential(tenantID: credential("tenantId"), clientID: credential("clientId"), clientSecret: credential("clientSecret"),
                                               cloud: cloud, transport: session.transport, retry: .none)
        let changed = Set(0..<rotated)
        let expected = Set(consumers.filter { !$0.value.isDisjoint(with: changed) }.keys)
        let burstWall = Date()
        let burst = ContinuousClock.now
        do {
            let vault = try await session.client(vault: "restart-kv", cloud: cloud, credential: owner)
            try await forEachConcurrently(0..<rotated, width: 10) { i in _ = try await vault.setSecret("s-\(i)", value: "rotated-\(i)") }
        } catch {
            try? await session.shutdown()
            throw error
        }
        try? await session.shutdown()
        let bound = Double(poll + jitter + debounce)
        var restartedAt: [String: Date] = [:]
        while ContinuousClock.now - burst < .seconds(bound + 60) {
            restartedAt = try await restarts(client)
            if expected.isSubset(of: Set(restartedAt.keys)) { break }
            try await Task.sleep(for: .milliseconds(500))
        }
        // Two more windows: a second restart for the same burst would show now.
        try await Task.sleep(for: .seconds(2 * debounce + 2))
        let burstCPU = cpuSeconds(pid) - loadedCPU
        restartedAt = try await restarts(client)
        let counts = try await restartCounts(metricsPort)
        let delays = expected.compactMap { restartedAt[$0].map { $0.timeIntervalSince(burstWall) } }.sorted()
        let unexpected = Set(restartedAt.keys).subtracting(expected)
        let twice = counts.filter { $0.value > 1 }.count
        func pct(_ p: Double) -> Double { delays.isEmpty ? 0 : delays[min(delays.count - 1, Int(Double(delays.count - 1) * p))] }
        return [
            "### Restarts: \(deployments) Deployments over \(syncs) SecretSyncs, \(rotated) secrets rotated in one burst",
            "",
            "| figure | value |",
            "|---|---:|",
            "| Deployments reading a changed Secret (expected restarts) | \(expected.count) |",
            "| restarted | \(Set(restartedAt.keys).intersection(expected).count) |",
            "| restarted more than once | \(twice) |",
            "| restarted without reading a changed Secret | \(unexpected.count) |",
            String(format: "| vault change → restart patch: p50 / max (s; restartedAt has whole seconds) | %.0f / %.0f |", pct(0.5), delays.last ?? 0),
            String(format: "| bound: poll %d + jitter %d + debounce %d (s) | %.0f |", poll, jitter, debounce, bound),
            String(format: "| inputs of every Deployment recorded after creation (s) | %.1f |", baseline),
            String(format: "| restarter RSS: idle, none annotated / %d annotated (MiB) | %.1f / %.1f |", deployments, idleRSS, loadedRSS),
            String(format: "| restarter memory per annotated workload (KiB) | %.1f |", (loadedRSS - idleRSS) * 1024 / Double(deployments)),
            String(format: "| restarter CPU: recording %d workloads / the burst (s) | %.2f / %.2f |", deployments, loadedCPU - idleCPU, burstCPU),
            String(format: "| restarter CPU per annotated workload, recording (ms) | %.2f |", (loadedCPU - idleCPU) * 1000 / Double(deployments)),
        ]
    }

    func seed(issuer: String, jwks: String, clientID: String) -> String {
        var lines = ["vaults:", "  - name: restart-kv", "    secrets:"]
        for i in 0..<syncs { lines.append("      - {name: s-\(i), value: value-\(i)}") }
        lines += ["identities:", "  - name: sync", "    clientId: \(clientID)", "    access: {restart-kv: read}", "    federatedCredentials:"]
        for n in 0..<namespaces { lines.append("      - {issuer: \"\(issuer)\", subject: \"system:serviceaccount:ns-\(n):sync\"}") }
        lines += ["issuers:", "  - issuer: \"\(issuer)\"", "    jwks: \(jwks)"]
        return lines.joined(separator: "\n") + "\n"
    }

    /// SecretSync `sync-i` (namespace i mod namespaces) makes Secret `sync-i` from vault secret `s-i`.
    func fillSyncs(_ client: KubernetesClient, tenant: String, cloudEnvFile: String, clientID: String) async throws {
        for n in 0..<namespaces {
            let ns = "ns-\(n)"
            _ = try await client.create(Namespace(name: ns))
            _ = try await client.create(ServiceAccount(metadata: ObjectMeta(name: "sync", namespace: ns)))
            let objects = stride(from: n, to: syncs, by: namespaces).map { "  - |\n    objectName: s-\($0)\n    objectType: secret\n" }.joined()
            _ = try await client.create(SecretProviderClass(metadata: ObjectMeta(name: "vault", namespace: ns), spec: .init(provider: "azure", parameters: [
                "keyvaultName": "restart-kv", "tenantId": tenant, "clientID": clientID, "cloudName": "AzureStackCloud", "cloudEnvFileName": cloudEnvFile,
                "objects": "array:\n" + objects,
            ])))
        }
        try await forEachConcurrently(0..<syncs, width: 16) { i in
            _ = try await client.create(SecretSync(metadata: ObjectMeta(name: "sync-\(i)", namespace: "ns-\(i % namespaces)"), spec: .init(
                secretProviderClassName: "vault", serviceAccountName: "sync", secretObject: .init(data: [.init(sourcePath: "s-\(i)", targetKey: "value")]))))
        }
    }

    /// Creates the Deployments; returns `namespace/name` → the indexes of the Secrets it reads.
    func fillDeployments(_ client: KubernetesClient) async throws -> [String: Set<Int>] {
        let perNamespace = syncs / namespaces
        var reads: [String: Set<Int>] = [:]
        for d in 0..<deployments {
            let n = d % namespaces
            let first = n + namespaces * ((d / namespaces) % perNamespace)
            let second = n + namespaces * ((d / namespaces + 7) % perNamespace)
            reads["ns-\(n)/web-\(d)"] = d % 3 == 0 ? [first, second] : [first]
        }
        let plan = reads
        try await forEachConcurrently(0..<deployments, width: 16) { d in
            let n = d % namespaces, key = "ns-\(n)/web-\(d)"
            let env: [JSONValue] = (plan[key] ?? []).sorted().map { i in
                ["name": .string("S\(i)"), "valueFrom": ["secretKeyRef": ["name": .string("sync-\(i)"), "key": "value"]]]
            }
            _ = try await client.create(WorkloadKinds.deployment, namespace: "ns-\(n)", body: [
                "apiVersion": "apps/v1", "kind": "Deployment",
                "metadata": ["name": .string("web-\(d)"), "namespace": .string("ns-\(n)"), "annotations": ["reloader.stakater.com/auto": "true"]],
                "spec": ["replicas": 1, "selector": ["matchLabels": ["app": .string("web-\(d)")]],
                         "template": ["metadata": ["labels": ["app": .string("web-\(d)")]],
                                      "spec": ["containers": [["name": "app", "image": "busybox", "env": .array(env)]]]]]])
        }
        return reads
    }

    func recorded(_ client: KubernetesClient) async throws -> Int {
        try await client.objects(WorkloadKinds.deployment).filter { $0[path: ["metadata", "annotations", "akvs.io/restart-inputs"]] != nil }.count
    }

    /// `namespace/name` → the restartedAt of every restarted Deployment.
    func restarts(_ client: KubernetesClient) async throws -> [String: Date] {
        var out: [String: Date] = [:]
        for d in try await client.objects(WorkloadKinds.deployment) {
            guard let text = d[path: ["spec", "template", "metadata", "annotations", "kubectl.kubernetes.io/restartedAt"]]?.stringValue,
                  let when = APITime.parse(text) else { continue }
            out["\(d.text("metadata", "namespace") ?? "")/\(d.text("metadata", "name") ?? "")"] = when
        }
        return out
    }

    /// `akvs_restarts_total` per Deployment from the restarter's /metrics.
    func restartCounts(_ port: Int) async throws -> [String: Int] {
        let http = ChaosHTTP(caFile: "/dev/null")
        let reply = try? await http.call(.GET, "http://127.0.0.1:\(port)/metrics")
        await http.shutdown()
        let text = reply?.body ?? ""
        var out: [String: Int] = [:]
        for line in text.split(separator: "\n") where line.hasPrefix("akvs_restarts_total{") {
            guard let name = Self.label(line, "name"), let namespace = Self.label(line, "namespace"), let value = Double(line.split(separator: " ").last ?? "") else { continue }
            out["\(namespace)/\(name)"] = Int(value)
        }
        return out
    }

    static func label(_ line: Substring, _ key: String) -> String? {
        guard let start = line.range(of: "\(key)=\"") else { return nil }
        let rest = line[start.upperBound...]
        return rest.firstIndex(of: "\"").map { String(rest[..<$0]) }
    }

    func waitFor(_ what: String, timeout: Duration, _ done: () async throws -> Bool) async throws {
        let deadline = ContinuousClock.now + timeout
        while ContinuousClock.now < deadline {
            if (try? await done()) == true { return }
            try await Task.sleep(for: .milliseconds(500))
        }
        throw BenchError("timed out waiting for \(what)")
    }
}

enum WorkloadKinds {
    static let deployment = ResourceKind(group: "apps", version: "v1", kind: "Deployment", plural: "deployments")
}
