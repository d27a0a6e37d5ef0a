import AzureIdentity
import Emulator
import EmulatorTestSupport
import Foundation
import KeyVault
import Testing

@Suite struct BudgetTests {
    /// A per-vault request budget: after the burst, requests wait for the bucket to refill.
    @Test func requestBudgetSpacesRequestsAfterTheBurst() async throws {
        let limiter = ConcurrencyLimiter(limit: 8, requestsPerSecond: 20, burst: 5)
        let start = ContinuousClock.now
        await withTaskGroup(of: Void.self) { group in
            for _ in 0..<15 { group.addTask { _ = await limiter.run { () async -> Int in 1 } } }
        }
        let elapsed = ContinuousClock.now - start
        #expect(elapsed >= .milliseconds(450), "10 requests beyond a burst of 5 at 20/s need about 0.5 s, took \(elapsed)")
        #expect(await limiter.started == 15)
    }

    /// Found by the chaos run: retries inside one call did not pay into the budget, so a vault in outage saw
    /// up to four times `--vault-requests-per-second`. Every attempt is a request and waits for the budget.
    @Test func retriesPayIntoTheBudget() async throws {
        try await EmulatorFixture.with { f in
            let session = KeyVaultSession(transport: f.session.transport, tokens: f.session.tokens,
                                          limiters: VaultLimiters(requestsPerSecond: 4, burst: 1),
                                          retry: RetryPolicy(maxAttempts: 4, baseDelay: .milliseconds(1), maxDelay: .milliseconds(2)))
            let client = try await session.client(vault: "test-kv", cloud: f.cloud, credential: f.secretCredential())
            _ = try await client.getSecret("plain")
            try await f.admin.setFaults(FaultSettings(outage: true), vault: "test-kv")
            try await f.admin.resetCounters()
            let start = ContinuousClock.now
            await #expect(throws: KeyVaultError.self) { _ = try await client.getSecret("plain") }
            let elapsed = ContinuousClock.now - start
            #expect(try await f.admin.counters().vaults["test-kv"]?.total == 4)
            // Four requests at 4/s after the spent burst: at least 0.75 s, not the few milliseconds of the backoff alone.
            #expect(elapsed >= .milliseconds(700), "4 attempts at 4 requests/s took \(elapsed)")
        }
    }
}
