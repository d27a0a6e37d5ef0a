import CSIAPI
import Foundation
import GRPCCore
import GRPCNIOTransportHTTP2
import Kubernetes
import SecretsStoreAPI

/// One pod at a time through `akvs csi-driver --azure-provider in-process` (no result sharing, 10 objects):
/// publish latency with the vault's 20 ms and with none (what the driver adds), served from the node's last good
/// content while the vault is down (`akvs.io/serve-stale-on-outage`), and the Kubernetes requests per publish. With `AKVS_BENCH_DRIVER_WRAP` (e.g. `valgrind --tool=callgrind --instr-atstart=no
/// --callgrind-out-file=/tmp/akvs.cg`) the driver runs under that command; under callgrind, instructions are
/// collected only around the measured publishes (`callgrind_control -i on|off`), so the profile is the publish path.
/// valgrind 3.19 cannot read a static release binary's DWARF: wrap a script that runs a `strip --strip-debug` copy
/// (BENCHMARKS.md has it).
struct PublishPathBenchmark {
    var samples = 50
    var latencyMs = 20

    func run() async throws -> [String] {
        guard getuid() == 0 else { throw BenchError("the publish benchmark mounts tmpfs: run it as root") }
        let csi = CSIBenchmark()
        let work = URL(fileURLWithPath: "/tmp/akvs-publish-bench-\(UUID().uuidString.prefix(8))")
        try FileManager.default.createDirectory(at: work.appendingPathComponent("providers"), withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: work) }
        let kube = try ChildProcess.start(ChildProcess.sibling("akvs-kube-test-server"), ["--state-dir", work.appendingPathComponent("kube").path],
                                          readyPrefix: "akvs kube-test-server ready")
        defer { kube.stop() }
        let kubeconfig = work.appendingPathComponent("kube/kubeconfig").path
        let client = try KubernetesClient(configuration: try KubernetesConfiguration.kubeconfig(path: kubeconfig))
        let emulator = try EmulatorProcess.start(work: work, seed: csi.seed())
        defer { emulator.process.stop() }
        let admin = emulator.admin
        for ns in 0..<10 { _ = try await client.create(Namespace(name: "ns-\(ns)")) }
        try await csi.createClasses(client, credentials: emulator.credentials)

        let socket = work.appendingPathComponent("csi.sock").path
        let arguments = ["csi-driver", "--endpoint", "unix://\(socket)", "--nodeid", "bench-node", "--provider-volume", work.appendingPathComponent("providers").path,
                         "--additional-provider-volume-paths", work.appendingPathComponent("none").path, "--kubeconfig", kubeconfig,
                         "--enable-secret-rotation", "true", "--rotation-poll-interval", "3600s",
                         "--metrics-addr", "127.0.0.1:\(try freePort())", "--health-addr", "127.0.0.1:\(try freePort())", "--log-level", "error",
                         "--azure-provider", "in-process", "--ca-file", emulator.caFile, "--object-cache-ttl", "0"]
        let wrap = (ProcessInfo.processInfo.environment["AKVS_BENCH_DRIVER_WRAP"] ?? "").split(separator: " ").map(String.init)
        let driver: ChildProcess
        if let tool = wrap.first {
            let path = tool.hasPrefix("/") ? tool : "/usr/bin/" + tool
            driver = try ChildProcess.start(URL(fileURLWithPath: path), Array(wrap.dropFirst()) + [ChildProcess.sibling("akvs").path] + arguments,
                                            readyPrefix: "akvs csi-driver ready")
        } else {
            driver = try ChildProcess.start(ChildProcess.sibling("akvs"), arguments, readyPrefix: "akvs csi-driver ready")
        }
        defer { driver.stop() }
        let callgrind = wrap.contains { $0.contains("callgrind") }
        var lines = ["### One pod at a time, `akvs csi-driver --azure-provider in-process`\(callgrind ? " under callgrind" : "") (10 objects, no result sharing)", ""]
        try await withGRPCClient(transport: .http2NIOPosix(target: .unixDomainSocket(path: socket), transportSecurity: .plaintext)) { grpc in
            let node = Csi_V1_Node.Client(wrapping: grpc)
            var round = 0
            func measure(latency: Int, profile: Bool, outage: Bool = false, count: Int? = nil) async throws -> (p50: Double, p99: Double, requests: KubeRequests) {
                let spc = outage ? "ten-stale" : "ten"
                let samples = count ?? samples
                try await admin.setFaults(latencyMs: latency)
                // Warm: the token, the connections (and, for the outage round, the node's last good content).
                for i in 0..<3 { try await csi.publish(node, csi.request(work, pod: "warm-\(round)-\(i)", namespace: "ns-0", spc: spc)) }
                if outage { try await admin.setFaults(latencyMs: latency, outage: true) }
                _ = try await KubeRequests.take(client)
                if profile { try control(["-i", "on", "\(driver.process.processIdentifier)"]) }
                var times: [Double] = []
                for i in 0..<samples {
                    let r = csi.request(work, pod: "seq-\(round)-\(i)", namespace: "ns-0", spc: spc)
                    let start = ContinuousClock.now
                    try await csi.publish(node, r)
                    times.append(seconds(ContinuousClock.now - start))
                }
                if profile { try control(["-i", "off", "\(driver.process.processIdentifier)"]); try control(["-d", "\(driver.process.processIdentifier)"]) }
                let requests = try await KubeRequests.take(client)
                for i in 0..<3 { try await csi.unpublish(node, csi.target(work, "warm-\(round)-\(i)")) }
                for i in 0..<samples { try await csi.unpublish(node, csi.target(work, "seq-\(round)-\(i)")) }
                round += 1
                times.sort()
                return (csi.pct(times, 0.5), csi.pct(times, 0.99), requests)
            }
            let slow = try await measure(latency: latencyMs, profile: callgrind)
            let fast = try await measure(latency: 0, profile: false)
            let stale = try await measure(latency: latencyMs, profile: false, outage: true, count: max(5, samples / 2))
            try await admin.setFaults(latencyMs: 0)
            lines += [
                "| Key Vault | publishes | p50 ms | p99 ms | Kubernetes writes per publish | reads per publish | 4xx/5xx |",
                "|---|---:|---:|---:|---:|---:|---:|",
            ]
            for (label, m, n) in [("\(latencyMs) ms latency", slow, samples), ("0 ms latency", fast, samples),
                                  ("down (503), served stale", stale, max(5, samples / 2))] {
                let reads = m.requests.entries.filter { $0.verb == "GET" }.reduce(0) { $0 + $1.count }
                lines.append(String(format: "| %@ | %d | %.1f | %.1f | %.2f | %.2f | %d |", label, n, m.p50 * 1000, m.p99 * 1000,
                                    Double(m.requests.writes()) / Double(n), Double(reads) / Double(n), m.requests.failed))
            }
            lines += ["", "Writes (\(latencyMs) ms round): \(slow.requests.summary)", ""]
        }
        await admin.shutdown()
        await client.shutdown()
        return lines
    }

    func control(_ arguments: [String]) throws {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/callgrind_control")
        process.arguments = arguments
        process.standardOutput = FileHandle.nullDevice
        try process.run()
        process.waitUntilExit()
    }
}
