import Foundation
import Kubernetes
import SecretsStoreAPI

/// `akvs-kube-bench`: informer, work-queue and SecretSync-controller numbers for BENCHMARKS.md.
/// Runs against a real `akvs-kube-test-server` process (next to this binary) so the server's memory is not counted.
@main
struct KubeBench {
    static func main() async throws {
        let args = CommandLine.arguments.dropFirst()
        let what = args.first ?? "all"
        var lines: [String] = []
        if what == "all" || what == "informer" {
            let objects = args.dropFirst().first.flatMap(Int.init) ?? 10_000
            lines += try await InformerBenchmark(objects: objects).run()
        }
        if what == "sync" {
            var bench = SyncBenchmark()
            if let n = args.dropFirst().first.flatMap(Int.init) { bench.namespaces = n }
            if let p = args.dropFirst(2).first.flatMap(Int.init) { bench.pollSeconds = p }
            // Options after the numbers: steady (cycle 1 and one unpaced poll), jitter=<s>, budget=<requests/s>.
            for option in args.dropFirst(3) {
                if option == "steady" { bench.steady = true }
                if option.hasPrefix("jitter="), let j = Int(option.dropFirst(7)) { bench.jitterSeconds = j }
                if option.hasPrefix("budget="), let b = Double(option.dropFirst(7)) { bench.vaultRequestsPerSecond = b }
            }
            lines += try await bench.run()
        }
        if what == "csi" {
            var bench = CSIBenchmark()
            if let n = args.dropFirst().first.flatMap(Int.init) { bench.volumes = n }
            if let i = args.dropFirst(2).first.flatMap(Int.init) { bench.intervalSeconds = i }
            if let r = args.dropFirst(3).first.flatMap(Int.init) { bench.republishRounds = max(1, r) }
            lines += try await bench.run()
        }
        if what == "publish" {
            var bench = PublishPathBenchmark()
            if let n = args.dropFirst().first.flatMap(Int.init) { bench.samples = n }
            lines += try await bench.run()
        }
        if what == "restart" {
            var bench = RestartBenchmark()
            if let n = args.dropFirst().first.flatMap(Int.init) { bench.deployments = n }
            if let n = args.dropFirst(2).first.flatMap(Int.init) { bench.syncs = n }
            if let n = args.dropFirst(3).first.flatMap(Int.init) { bench.rotated = n }
            lines += try await bench.run()
        }
        if what == "node-role" {
            var bench = NodeRoleBenchmark()
            if let n = args.dropFirst().first.flatMap(Int.init) { bench.pods = n }
            if let r = args.dropFirst(2).first.flatMap(Int.init) { bench.republishRounds = r }
            lines += try await bench.run()
        }
        if what == "chaos" {
            let bench = try ChaosBenchmark.parse(Array(args.dropFirst()))
            let result = try await bench.run()
            print(result.lines.joined(separator: "\n"))
            // The contract other checks read: exactly this, as the last line.
            print("chaos: \(result.faults) faults injected, \(result.violations) violations")
            fflush(nil)
            exit(result.violations == 0 ? 0 : 1)
        }
        if what == "all" || what == "workqueue" {
            lines += await WorkQueueBenchmark().run()
        }
        print(lines.joined(separator: "\n"))
    }
}

func rssMiB() -> Double {
    guard let status = try? String(contentsOfFile: "/proc/self/status", encoding: .utf8),
          let line = status.split(separator: "\n").first(where: { $0.hasPrefix("VmRSS:") }),
          let kb = Double(line.split(separator: " ").dropFirst().first ?? "") else { return 0 }
    return kb / 1024
}

func seconds(_ d: Duration) -> Double { Double(d.components.seconds) + Double(d.components.attoseconds) / 1e18 }
