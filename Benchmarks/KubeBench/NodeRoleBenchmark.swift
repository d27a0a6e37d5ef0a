import CSIAPI
import Foundation
import GRPCCore
import GRPCNIOTransportHTTP2
import Kubernetes
import StructuredJSON

/// The node role's footprint: `akvs csi-driver` + `akvs provider` (two processes, the add-on's layout) against
/// `akvs csi-driver --azure-provider in-process` (one process), each idle, after 100 pods and after 1,000 republishes.
/// RSS and CPU (user + system) are summed over the node role's processes, read from /proc.
struct NodeRoleBenchmark {
    var pods = 100
    var republishRounds = 10
    var csi = CSIBenchmark()

    func run() async throws -> [String] {
        guard getuid() == 0 else { throw BenchError("the node-role benchmark mounts tmpfs: run it as root") }
        var lines = ["### Node role: one process against two (`akvs-kube-bench node-role`)", "",
                     "\(pods) pods of 5 objects each (10 SecretProviderClasses, one service principal), rotation interval 1 s, then "
                        + "\(pods * republishRounds) republishes (\(republishRounds) rounds, each after the interval). Sums over the node role's processes.", "",
                     "| layout | processes | idle RSS MiB | RSS after \(pods) pods | RSS after \(pods * republishRounds) republishes | CPU s for pods + republishes | Key Vault GETs |",
                     "|---|---:|---:|---:|---:|---:|---:|"]
        for inProcess in [false, true] { lines.append(try await measure(inProcess: inProcess)) }
        return lines + [""]
    }

    func measure(inProcess: Bool) async throws -> String {
        let work = URL(fileURLWithPath: "/tmp/akvs-node-bench-\(UUID().uuidString.prefix(8))")
        try FileManager.default.createDirectory(at: work.appendingPathComponent("providers"), withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: work) }
        let kube = try ChildProcess.start(ChildProcess.sibling("akvs-kube-test-server"), ["--state-dir", work.appendingPathComponent("kube").path],
                                          readyPrefix: "akvs kube-test-server ready")
        defer { kube.stop() }
        let kubeconfig = work.appendingPathComponent("kube/kubeconfig").path
        let client = try KubernetesClient(configuration: try KubernetesConfiguration.kubeconfig(path: kubeconfig))
        let emulator = try EmulatorProcess.start(work: work, seed: csi.seed())
        defer { emulator.process.stop() }
        let credentials = emulator.credentials, caFile = emulator.caFile, admin = emulator.admin
        for ns in 0..<10 { _ = try await client.create(Namespace(name: "ns-\(ns)")) }
        try await csi.createClasses(client, credentials: credentials)

        let socket = work.appendingPathComponent("csi.sock").path
        let provider = inProcess ? nil : try csi.startProvider(work, caFile: caFile, cacheTTL: 1)
        var arguments = ["csi-driver", "--endpoint", "unix://\(socket)", "--nodeid", "bench-node", "--provider-volume", work.appendingPathComponent("providers").path,
                         "--additional-provider-volume-paths", work.appendingPathComponent("none").path, "--kubeconfig", kubeconfig,
                         "--enable-secret-rotation", "true", "--rotation-poll-interval", "1s",
                         "--metrics-addr", "127.0.0.1:\(try freePort())", "--health-addr", "127.0.0.1:\(try freePort())", "--log-level", "error"]
        if inProcess { arguments += ["--azure-provider", "in-process", "--ca-file", caFile] }
        let driver = try ChildProcess.start(ChildProcess.sibling("akvs"), arguments, readyPrefix: "akvs csi-driver ready")
        let pids = [driver.process.processIdentifier] + (provider.map { [$0.process.processIdentifier] } ?? [])
        defer { driver.stop(); provider?.stop() }
        try await Task.sleep(for: .seconds(2))
        let idle = pids.map(rss).reduce(0, +)
        let cpuStart = pids.map(cpuSeconds).reduce(0, +)
        _ = try await admin.reset()
        let perClass = (pods + 9) / 10
        var afterPods = 0.0
        try await withGRPCClient(transport: .http2NIOPosix(target: .unixDomainSocket(path: socket), transportSecurity: .plaintext)) { grpc in
            let node = Csi_V1_Node.Client(wrapping: grpc)
            let requests = (0..<pods).map { csi.request(work, pod: "n-\($0)", namespace: "ns-\($0 / perClass)", spc: "shared") }
            try await forEachConcurrently(0..<pods, width: 32) { i in try await csi.publish(node, requests[i]) }
            afterPods = pids.map(rss).reduce(0, +)
            for _ in 0..<republishRounds {
                try await Task.sleep(for: .milliseconds(1100))
                try await forEachConcurrently(0..<pods, width: 32) { i in try await csi.publish(node, requests[i]) }
            }
            for i in 0..<pods { try await csi.unpublish(node, csi.target(work, "n-\(i)")) }
        }
        let afterRepublish = pids.map(rss).reduce(0, +)
        let cpu = pids.map(cpuSeconds).reduce(0, +) - cpuStart
        let gets = try await admin.reset().gets
        await admin.shutdown()
        await client.shutdown()
        return String(format: "| %@ | %d | %.1f | %.1f | %.1f | %.2f | %d |", inProcess ? "one process (`--azure-provider in-process`)" : "driver + provider (add-on layout)",
                      pids.count, idle, afterPods, afterRepublish, cpu, gets)
    }
}

/// User + system CPU seconds of a process so far (/proc/PID/stat fields 14 and 15, in clock ticks).
func cpuSeconds(_ pid: Int32) -> Double {
    guard let stat = try? String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8), let close = stat.lastIndex(of: ")") else { return 0 }
    let fields = stat[stat.index(after: close)...].split(separator: " ")
    guard fields.count > 13, let user = Double(fields[11]), let system = Double(fields[12]) else { return 0 }
    return (user + system) / Double(sysconf(Int32(_SC_CLK_TCK)))
}
