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
}
