import AzureIdentity
import AzureProvider
import Emulator
import EmulatorTestSupport
import Foundation
import GRPCCore
import GRPCNIOTransportHTTP2
import KeyVault
import ProviderAPI

/// Provider benchmark: mount latency vs object count, request sharing, and the RSS of a real
/// `akvs provider` process driven over its unix socket.
public struct ProviderBenchmark: Sendable {
    public var executable: String
    public var latencyMs: Double
    public var samples: Int
    public var concurrentMounts: Int
    public var memoryMounts: Int
    public var workDirectory: URL

    public init(executable: String, latencyMs: Double = 20, samples: Int = 30, concurrentMounts: Int = 200, memoryMounts: Int = 10_000, workDirectory: URL) {
        self.executable = executable; self.latencyMs = latencyMs; self.samples = samples
        self.concurrentMounts = concurrentMounts; self.memoryMounts = memoryMounts; self.workDirectory = workDirectory
    }

    static func seed(objects: Int) -> String {
        var lines = EmulatorFixture.defaultSeed.split(separator: "\n", omittingEmptySubsequences: false).map(String.init)
        guard let index = lines.firstIndex(where: { $0.contains("{name: disabled") }) else { return EmulatorFixture.defaultSeed }
        let indent = String(lines[index].prefix { $0 == " " })
        lines.insert(contentsOf: (0..<objects).map { "\(indent)- {name: bench-\($0), value: value-\($0)}" }, at: index + 1)
        return lines.joined(separator: "\n")
    }

    public func run() async throws -> String {
        let fixture = try await EmulatorFixture.start(seed: Self.seed(objects: 20))
        defer { Task { await fixture.stop() } }
        let socket = workDirectory.appendingPathComponent("azure.sock").path
        try FileManager.default.createDirectory(at: workDirectory, withIntermediateDirectories: true)
        let process = Process()
        process.executableURL = URL(fileURLWithPath: executable)
        process.arguments = ["provider", "--endpoint", "unix://\(socket)", "--healthz-port", "0", "--prometheus-port", "0",
                             "--ca-file", fixture.emulator.caFile, "--object-cache-ttl", "0", "--log-level", "error"]
        let pipe = Pipe()
        process.standardOutput = pipe
        try process.run()
        defer { process.terminate(); process.waitUntilExit() }
        _ = pipe.fileHandleForReading.availableData  // the ready line
        let idle = rss(process.processIdentifier)

        var lines: [String] = []
        try await withGRPCClient(transport: .http2NIOPosix(target: .unixDomainSocket(path: socket), transportSecurity: .plaintext)) { grpc in
            let client = V1alpha1_CSIDriverProvider.Client(wrapping: grpc)
            // 1. Latency: 1 object vs 20 objects, each GET delayed by the emulator.
            try await fixture.admin.setFaults(FaultSettings(latencyMs: latencyMs), vault: "test-kv")
            let one = try await mountLatencies(client, fixture, objects: 1)
            let twenty = try await mountLatencies(client, fixture, objects: 20)
            lines.append("| mount | objects | samples | p50 ms | p99 ms |")
            lines.append("|---|---:|---:|---:|---:|")
            lines.append(String(format: "| 1 object | 1 | %d | %.1f | %.1f |", one.count, percentile(one, 0.5) * 1000, percentile(one, 0.99) * 1000))
            lines.append(String(format: "| 20 objects | 20 | %d | %.1f | %.1f |", twenty.count, percentile(twenty, 0.5) * 1000, percentile(twenty, 0.99) * 1000))
            lines.append(String(format: "\nEmulated Key Vault latency %.0f ms per GET. p50 ratio 20 objects / 1 object: **%.2fx**", latencyMs, percentile(twenty, 0.5) / percentile(one, 0.5)))
            try await fixture.admin.setFaults(FaultSettings(), vault: "test-kv")
        }
        // 2. Sharing: a provider with the default cache TTL, 200 concurrent mounts of one SPC.
        let shared = try await sharing(fixture)
        lines.append("\n\(concurrentMounts) concurrent Mount calls, same SPC (\(shared.objects) objects) and identity: **\(shared.gets) Key Vault GETs** (\(shared.seconds.formatted(.number.precision(.fractionLength(2)))) s)")
        // 3. Memory of the provider process.
        let after = try await churn(socket: socket, pid: process.processIdentifier, fixture: fixture)
        lines.append(String(format: "\n`akvs provider` RSS: idle %.1f MiB; after %d mounts (3 objects each) %.1f MiB; after another %d %.1f MiB",
                            idle, memoryMounts, after.0, memoryMounts / 2, after.1))
        return lines.joined(separator: "\n")
    }

    func attributes(_ fixture: EmulatorFixture, objects: Int) -> String {
        let items = (0..<objects).map { "  - |\n    objectName: bench-\($0)\n    objectType: secret\n" }.joined()
        let a: [String: String] = [
            "keyvaultName": "test-kv", "tenantId": EmulatorFixture.tenant, "cloudName": "AzureStackCloud",
            "cloudEnvFileName": fixture.emulator.credentials.cloudEnvFile, "objects": "array:\n" + items,
            "csi.storage.k8s.io/pod.name": "bench", "csi.storage.k8s.io/pod.namespace": "default",
        ]
        return String(decoding: try! JSONSerialization.data(withJSONObject: a), as: UTF8.self)
    }

    var secrets: String { #"{"clientid":"\#(EmulatorFixture.readerID)","clientsecret":"\#(EmulatorFixture.readerSecret)"}"# }

    func request(_ fixture: EmulatorFixture, objects: Int) -> V1alpha1_MountRequest {
        var r = V1alpha1_MountRequest()
        r.attributes = attributes(fixture, objects: objects)
        r.secrets = secrets
        r.permission = "420"
        r.targetPath = "/unused"
        return r
    }

    func mountLatencies(_ client: V1alpha1_CSIDriverProvider.Client<HTTP2ClientTransport.Posix>, _ fixture: EmulatorFixture, objects: Int) async throws -> [Double] {
        let req = request(fixture, objects: objects)
        _ = try await client.mount(req)
        var samples: [Double] = []
        for _ in 0..<self.samples {
            let start = ContinuousClock.now
            let reply = try await client.mount(req)
            precondition(reply.files.count == objects)
            samples.append(seconds(ContinuousClock.now - start))
        }
        return samples.sorted()
    }

    func sharing(_ fixture: EmulatorFixture) async throws -> (objects: Int, gets: Int, seconds: Double) {
        let provider = AzureProvider(session: fixture.session)
        let items = ["plain", "rotating", "bench-0", "bench-1", "bench-2"].map { "  - |\n    objectName: \($0)\n    objectType: secret\n" }.joined()
        let a: [String: String] = [
            "keyvaultName": "test-kv", "tenantId": EmulatorFixture.tenant, "cloudName": "AzureStackCloud",
            "cloudEnvFileName": fixture.emulator.credentials.cloudEnvFile, "objects": "array:\n" + items,
            "csi.storage.k8s.io/pod.name": "bench", "csi.storage.k8s.io/pod.namespace": "default",
        ]
        let s = ["clientid": EmulatorFixture.readerID, "clientsecret": EmulatorFixture.readerSecret]
        try await fixture.admin.resetCounters()
        let start = ContinuousClock.now
        try await withThrowingTaskGroup(of: Void.self) { group in
            for _ in 0..<concurrentMounts { group.addTask { _ = try await provider.mount(attributes: a, secrets: s) } }
            try await group.waitForAll()
        }
        let elapsed = seconds(ContinuousClock.now - start)
        let gets = try await fixture.admin.counters().vaults["test-kv"]?.byStatus["200"] ?? 0
        return (5, gets, elapsed)
    }

    /// Mounts through the subprocess in batches; returns RSS after `memoryMounts` and after half as many more.
    func churn(socket: String, pid: Int32, fixture: EmulatorFixture) async throws -> (Double, Double) {
        func batch(_ count: Int) async throws {
            try await withGRPCClient(transport: .http2NIOPosix(target: .unixDomainSocket(path: socket), transportSecurity: .plaintext)) { grpc in
                let client = V1alpha1_CSIDriverProvider.Client(wrapping: grpc)
                let req = request(fixture, objects: 3)
                try await withThrowingTaskGroup(of: Void.self) { group in
                    for worker in 0..<16 {
                        group.addTask {
                            for _ in stride(from: worker, to: count, by: 16) { _ = try await client.mount(req) }
                        }
                    }
                    try await group.waitForAll()
                }
            }
        }
        try await batch(memoryMounts)
        let first = rss(pid)
        try await batch(memoryMounts / 2)
        return (first, rss(pid))
    }
}

/// Resident set size of a process in MiB (from /proc).
func rss(_ pid: Int32) -> Double {
    guard let status = try? String(contentsOfFile: "/proc/\(pid)/status", encoding: .utf8),
          let line = status.split(separator: "\n").first(where: { $0.hasPrefix("VmRSS:") }),
          let kb = Double(line.split(separator: " ").dropFirst().first ?? "") else { return 0 }
    return kb / 1024
}
