import AzureIdentity
import Emulator
import Foundation
import KeyVault

/// Client-against-emulator benchmark: GET secret throughput and latency, token single-flight.
public struct KeyVaultBenchmark: Sendable {
    public var requests: Int
    public var concurrency: [Int]
    public var tokenCallers: Int
    public var workDirectory: URL

    public init(requests: Int = 4000, concurrency: [Int] = [1, 64], tokenCallers: Int = 1000, workDirectory: URL) {
        self.requests = requests; self.concurrency = concurrency; self.tokenCallers = tokenCallers; self.workDirectory = workDirectory
    }

    /// One measured configuration.
    public struct Result: Sendable {
        public var callers: Int
        public var requests: Int
        public var seconds: Double
        public var p50: Double
        public var p99: Double
        public var vaultRequests: Int
        public var throughput: Double { Double(requests) / seconds }
    }

    /// Runs everything and returns a Markdown report.
    public func run() async throws -> String {
        let emulator = try await EmulatorServer.start(EmulatorOptions(stateDirectory: workDirectory))
        let session = try KeyVaultSession.make(additionalCAFile: emulator.caFile)
        let admin = EmulatorAdminClient(emulator: emulator, transport: session.transport)
        defer { Task { try? await session.shutdown(); await emulator.stop() } }
        let credential = try ClientSecretCredential(tenantID: emulator.credentials.tenantId, clientID: emulator.credentials.clientId,
                                                    clientSecret: emulator.credentials.clientSecret, cloud: emulator.cloud, transport: session.transport)
        let client = try await session.client(vault: "akvs-demo", cloud: emulator.cloud, credential: credential)
        _ = try await client.setSecret("bench-secret", value: String(repeating: "x", count: 64))
        for _ in 0..<200 { _ = try await client.getSecret("bench-secret") }  // warm connections and token

        var results: [Result] = []
        for callers in concurrency {
            try await admin.resetCounters()
            results.append(try await measure(client: client, callers: callers, admin: admin))
        }
        let tokenCalls = try await tokenSingleFlight(emulator: emulator, session: session, admin: admin)

        var lines = ["| callers | requests | seconds | GET/s | p50 ms | p99 ms | vault requests seen |", "|---:|---:|---:|---:|---:|---:|---:|"]
        for r in results {
            lines.append(String(format: "| %d | %d | %.2f | %.0f | %.2f | %.2f | %d |", r.callers, r.requests, r.seconds, r.throughput, r.p50 * 1000, r.p99 * 1000, r.vaultRequests))
        }
        if results.count >= 2 {
            lines.append("")
            lines.append(String(format: "Throughput ratio %d callers / %d caller: %.2fx", results[1].callers, results[0].callers, results[1].throughput / results[0].throughput))
        }
        lines.append("")
        lines.append("\(tokenCallers) concurrent token requests for one identity -> \(tokenCalls) call(s) to the token endpoint")
        return lines.joined(separator: "\n")
    }

    func measure(client: KeyVaultClient, callers: Int, admin: EmulatorAdminClient) async throws -> Result {
        let perCaller = max(1, requests / callers)
        let start = ContinuousClock.now
        let latencies = try await withThrowingTaskGroup(of: [Double].self) { group in
            for _ in 0..<callers {
                group.addTask {
                    var samples: [Double] = []
                    samples.reserveCapacity(perCaller)
                    for _ in 0..<perCaller {
                        let t0 = ContinuousClock.now
                        _ = try await client.getSecret("bench-secret")
                        samples.append(seconds(ContinuousClock.now - t0))
                    }
                    return samples
                }
            }
            var all: [Double] = []
            for try await samples in group { all += samples }
            return all.sorted()
        }
        let elapsed = seconds(ContinuousClock.now - start)
        let seen = try await admin.counters().vaults["akvs-demo"]?.total ?? 0
        return Result(callers: callers, requests: latencies.count, seconds: elapsed, p50: percentile(latencies, 0.50), p99: percentile(latencies, 0.99), vaultRequests: seen)
    }

    /// Fires `tokenCallers` concurrent token requests through a fresh cache; returns the token-endpoint call count.
    func tokenSingleFlight(emulator: RunningEmulator, session: KeyVaultSession, admin: EmulatorAdminClient) async throws -> Int {
        try await admin.resetCounters()
        let cache = TokenCache()
        let credential = try ClientSecretCredential(tenantID: emulator.credentials.tenantId, clientID: emulator.credentials.clientId,
                                                    clientSecret: emulator.credentials.clientSecret, cloud: emulator.cloud, transport: session.transport)
        let scope = emulator.cloud.keyVaultScope
        try await withThrowingTaskGroup(of: Void.self) { group in
            for _ in 0..<tokenCallers { group.addTask { _ = try await cache.token(for: credential, scope: scope) } }
            try await group.waitForAll()
        }
        return try await admin.counters().token.total
    }
}

func seconds(_ d: Duration) -> Double { Double(d.components.seconds) + Double(d.components.attoseconds) / 1e18 }

func percentile(_ sorted: [Double], _ p: Double) -> Double {
    guard !sorted.isEmpty else { return 0 }
    return sorted[min(sorted.count - 1, Int((Double(sorted.count) * p).rounded(.up)) - 1)]
}
