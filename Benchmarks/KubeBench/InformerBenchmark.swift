import Foundation
import Kubernetes
import SecretsStoreAPI

/// Fills the test server with N Secrets and N SecretSyncs in 1,000 namespaces (at most), then measures the
/// informers' initial list+sync time and the RSS they add, against a plain paged list of the same data.
struct InformerBenchmark {
    var objects: Int

    func run() async throws -> [String] {
        let binary = URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent().appendingPathComponent("akvs-kube-test-server")
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("akvs-kube-bench-\(UUID().uuidString)")
        let process = Process()
        process.executableURL = binary
        process.arguments = ["--state-dir", dir.path]
        let pipe = Pipe()
        process.standardOutput = pipe
        try process.run()
        defer { process.terminate(); process.waitUntilExit(); try? FileManager.default.removeItem(at: dir) }
        let ready = String(decoding: pipe.fileHandleForReading.availableData, as: UTF8.self)
        guard ready.hasPrefix("akvs kube-test-server ready") else { throw BenchError("test server did not start: \(ready)") }

        let config = try KubernetesConfiguration.kubeconfig(path: dir.appendingPathComponent("kubeconfig").path)
        let client = try KubernetesClient(configuration: config)
        defer { Task { await client.shutdown() } }

        let namespaces = min(1_000, max(1, objects / 10))
        let fillStart = ContinuousClock.now
        try await fill(client, namespaces: namespaces)
        let fill = seconds(ContinuousClock.now - fillStart)

        let before = rssMiB()
        let secrets = Informer<Secret>(client: client)
        let syncs = Informer<SecretSync>(client: client)
        let start = ContinuousClock.now
        let runs = [Task { await secrets.run() }, Task { await syncs.run() }]
        await secrets.waitForSync()
        await syncs.waitForSync()
        let sync = seconds(ContinuousClock.now - start)
        let after = rssMiB()
        let cached = await secrets.count + syncs.count
        // One change after sync reaches the cache through the watch.
        let changeStart = ContinuousClock.now
        _ = try await client.create(Secret(metadata: ObjectMeta(name: "late", namespace: "ns-0"), data: ["k": Data("v".utf8)]))
        while await secrets.get(namespace: "ns-0", name: "late") == nil { try await Task.sleep(for: .milliseconds(1)) }
        let propagation = seconds(ContinuousClock.now - changeStart)
        for run in runs { run.cancel() }
        // Baseline, after the informers so its freed memory does not hide theirs: the same pages, decoded, no cache.
        let plainStart = ContinuousClock.now
        let plainSecrets = try await client.listAll(Secret.self, namespace: nil).items.count
        let plainSyncs = try await client.listAll(SecretSync.self, namespace: nil).items.count
        let plain = seconds(ContinuousClock.now - plainStart)

        let perNamespace = await secrets.list(namespace: "ns-7").count

        return [
            "### Informer initial sync (\(objects) Secrets + \(objects) SecretSyncs in \(namespaces) namespaces)",
            "",
            "| measure | value |",
            "|---|---:|",
            String(format: "| fill the test server (%d creates) | %.1f s |", objects * 2, fill),
            String(format: "| plain paged list + decode of both, one after the other (baseline) | %.2f s (%d + %d items) |", plain, plainSecrets, plainSyncs),
            String(format: "| informers: list + index + cache, both (the two list concurrently) | %.2f s |", sync),
            String(format: "| informer / plain list time ratio | %.2f |", sync / plain),
            String(format: "| objects cached | %d |", cached),
            String(format: "| RSS added by the two caches | %.1f MiB (%.2f KiB per object) |", after - before, (after - before) * 1024 / Double(max(cached, 1))),
            String(format: "| a create reaching the cache through the watch | %.1f ms |", propagation * 1000),
            "| namespace index lookup (ns-7) | \(perNamespace) Secrets |",
            "",
        ]
    }

    func fill(_ client: KubernetesClient, namespaces: Int) async throws {
        try await forEachConcurrently(0..<namespaces, width: 16) { i in _ = try await client.create(Namespace(name: "ns-\(i)")) }
        let spec = SecretSync.Spec(secretProviderClassName: "vault", serviceAccountName: "default",
                                   secretObject: .init(data: [.init(sourcePath: "db-password", targetKey: "password")]))
        try await forEachConcurrently(0..<objects, width: 16) { i in
            let ns = "ns-\(i % namespaces)"
            _ = try await client.create(Secret(metadata: ObjectMeta(name: "secret-\(i)", namespace: ns, labels: ["app": "app-\(i % 50)"]),
                                               data: ["password": Data("value-\(i)-0123456789abcdef".utf8)]))
            _ = try await client.create(SecretSync(metadata: ObjectMeta(name: "sync-\(i)", namespace: ns), spec: spec))
        }
    }
}

func forEachConcurrently(_ range: Range<Int>, width: Int, _ body: @escaping @Sendable (Int) async throws -> Void) async throws {
    try await withThrowingTaskGroup(of: Void.self) { group in
        var next = range.lowerBound
        while next < range.upperBound && next - range.lowerBound < width { let i = next; group.addTask { try await body(i) }; next += 1 }
        while try await group.next() != nil {
            if next < range.upperBound { let i = next; group.addTask { try await body(i) }; next += 1 }
        }
    }
}

struct BenchError: Error, CustomStringConvertible {
    var description: String
    init(_ d: String) { description = d }
}
