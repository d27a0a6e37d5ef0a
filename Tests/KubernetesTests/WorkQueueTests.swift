import Foundation
import Kubernetes
import Testing

@Suite struct WorkQueueTests {
    @Test func deduplicatesAndNeverHandsOutAKeyTwiceAtOnce() async throws {
        let queue = WorkQueue<String>()
        for _ in 0..<100 { await queue.add("a") }
        await queue.add("b")
        #expect(await queue.depth == 2)
        let first = await queue.next()
        #expect(first == "a")
        await queue.add("a") // while processing: marked dirty, not handed out
        #expect(await queue.next() == "b")
        #expect(await queue.depth == 0)
        await queue.done("a")
        #expect(await queue.next() == "a") // re-queued after done
        await queue.done("a"); await queue.done("b")
        #expect(await queue.depth == 0)
    }

    @Test func delayedAndRateLimitedAdds() async throws {
        let queue = WorkQueue<String>(rateLimiter: .init(baseDelay: .milliseconds(10), maxDelay: .milliseconds(80)))
        await queue.add("later", after: .milliseconds(50))
        await queue.add("later", after: .seconds(10)) // the earlier due time wins
        #expect(await queue.depth == 0)
        let start = ContinuousClock.now
        #expect(await queue.next() == "later")
        #expect(ContinuousClock.now - start >= .milliseconds(40))
        await queue.done("later")

        await queue.addRateLimited("x"); await queue.addRateLimited("x"); await queue.addRateLimited("x")
        #expect(await queue.failureCount("x") == 3)
        await queue.forget("x")
        #expect(await queue.failureCount("x") == 0)
    }

    @Test func shutdownReleasesWaitingWorkers() async throws {
        let queue = WorkQueue<Int>()
        async let waiting = queue.next()
        try await Task.sleep(for: .milliseconds(20))
        await queue.shutdown()
        #expect(await waiting == nil)
    }

    @Test func concurrentWorkersProcessEachKeyOnceAtATime() async throws {
        let queue = WorkQueue<Int>()
        let tracker = Tracker()
        for round in 0..<20 { for key in 0..<50 { await queue.add(key + round * 0) } }
        await withTaskGroup(of: Void.self) { group in
            for _ in 0..<4 {
                group.addTask {
                    while let key = await queue.next() {
                        await tracker.begin(key)
                        try? await Task.sleep(for: .milliseconds(1))
                        await tracker.end(key)
                        await queue.done(key)
                    }
                }
            }
            try? await Task.sleep(for: .milliseconds(400))
            await queue.shutdown()
        }
        #expect(await tracker.overlaps == 0)
        #expect(await tracker.processed == 50)
    }

    actor Tracker {
        var active: Set<Int> = []
        var overlaps = 0
        var processed = 0
        func begin(_ k: Int) { if !active.insert(k).inserted { overlaps += 1 }; processed += 1 }
        func end(_ k: Int) { active.remove(k) }
    }
}

@Suite struct WorkQueuePriorityTests {
    @Test func urgentKeysGoAheadOfOrdinaryOnes() async throws {
        let queue = WorkQueue<String>()
        for key in ["a", "b", "c"] { await queue.add(key) }
        await queue.addUrgent("new")
        await queue.addUrgent("c") // already waiting: moves ahead
        #expect(await queue.next() == "new")
        #expect(await queue.next() == "c")
        #expect(await queue.next() == "a")
        #expect(await queue.depth == 1)
    }

    /// A fleet's start: every key waiting in the ordinary lane, then each moved ahead (the informer's ADDED
    /// events). Each move is O(1), so 100,000 take well under a second; each key still comes out once.
    @Test func movingAFleetToTheUrgentLaneIsLinear() async throws {
        let queue = WorkQueue<Int>()
        let n = 100_000
        for key in 0..<n { await queue.add(key) }
        let start = ContinuousClock.now
        for key in stride(from: n - 1, through: 0, by: -1) { await queue.addUrgent(key) }
        #expect(ContinuousClock.now - start < .seconds(10))
        #expect(await queue.depth == n)
        var seen: [Int] = []
        for _ in 0..<n { if let key = await queue.next() { seen.append(key); await queue.done(key) } }
        #expect(seen.first == n - 1 && seen.last == 0 && Set(seen).count == n)
        #expect(await queue.depth == 0)
        await queue.add(7)
        #expect(await queue.next() == 7)
    }
}
