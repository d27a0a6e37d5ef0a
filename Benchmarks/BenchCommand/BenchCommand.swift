import AKVSBench
import ArgumentParser
import Foundation

/// `akvs-bench`: the benchmarks whose results BENCHMARKS.md records (kept out of the `akvs` product).
@main
struct BenchCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "akvs-bench",
        abstract: "Run benchmarks against the embedded emulator and print a Markdown report.",
        subcommands: [KeyVaultBench.self, ProviderBench.self]
    )

    struct KeyVaultBench: AsyncParsableCommand {
        static let configuration = CommandConfiguration(commandName: "keyvault", abstract: "GET secret throughput/latency and token single-flight.")

        @Option(help: "GET requests per configuration.")
        var requests: Int = 4000

        @Option(help: "Comma-separated concurrent caller counts.")
        var callers: String = "1,64"

        @Option(name: .customLong("token-callers"), help: "Concurrent token requests for the single-flight check.")
        var tokenCallers: Int = 1000

        func run() async throws {
            let counts = callers.split(separator: ",").compactMap { Int($0.trimmingCharacters(in: .whitespaces)) }
            guard !counts.isEmpty, counts.allSatisfy({ $0 > 0 }), requests > 0 else {
                throw ValidationError("--callers must list positive numbers (e.g. 1,64) and --requests must be positive")
            }
            let dir = FileManager.default.temporaryDirectory.appendingPathComponent("akvs-bench-\(ProcessInfo.processInfo.processIdentifier)")
            let report = try await KeyVaultBenchmark(requests: requests, concurrency: counts, tokenCallers: tokenCallers, workDirectory: dir).run()
            print(report)
        }
    }

    struct ProviderBench: AsyncParsableCommand {
        static let configuration = CommandConfiguration(commandName: "provider", abstract: "Mount latency vs object count, shared reads, provider RSS.")

        @Option(name: .customLong("latency-ms"), help: "Emulated Key Vault latency per request.")
        var latencyMs: Double = 20

        @Option(help: "Mount samples per configuration.")
        var samples: Int = 30

        @Option(name: .customLong("memory-mounts"), help: "Mounts sent to the provider process before measuring RSS.")
        var memoryMounts: Int = 10_000

        func run() async throws {
            guard samples > 0, memoryMounts > 0, latencyMs >= 0 else { throw ValidationError("--samples and --memory-mounts must be positive, --latency-ms not negative") }
            // The provider runs as the real `akvs provider` process, built next to this binary.
            let exe = URL(fileURLWithPath: "/proc/self/exe").resolvingSymlinksInPath().deletingLastPathComponent().appendingPathComponent("akvs").path
            guard FileManager.default.isExecutableFile(atPath: exe) else {
                throw ValidationError("\(exe) not found: build it first (swift build -c release --product akvs)")
            }
            let dir = FileManager.default.temporaryDirectory.appendingPathComponent("akvs-bench-provider-\(ProcessInfo.processInfo.processIdentifier)")
            print(try await ProviderBenchmark(executable: exe, latencyMs: latencyMs, samples: samples, memoryMounts: memoryMounts, workDirectory: dir).run())
        }
    }
}
