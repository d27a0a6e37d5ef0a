import Foundation
import Kubernetes

/// Work queue throughput with heavy duplication: 10,000 keys each added 100 times while 4 workers, each
/// reconcile taking 200 µs, drain it.
struct WorkQueueBenchmark {
    var keys = 10_000
    var repeats = 100
    var workers = 4

    func run() async -> [String] {
        let queue = WorkQueue<String>()
        let names = (0..<keys).map { "namespace-\($0 % 1000)/secretsync-\($0)" }
        let counter = Counter()
        let before = rssMiB()
        let start = ContinuousClock.now
        await withTaskGroup(of: Void.self) { group in
            for _ in 0..<workers {
                group.addTask {
                    while let key = await queue.next() {
                        // A reconcile takes time; keys added meanwhile collapse into one more run.
                        try? await Task.sleep(for: .microseconds(200))
                        await counter.add()
                        await queue.done(key)
                    }
                }
            }
            group.addTask {
                for _ in 0..<repeats {
                    for (i, name) in names.enumerated() {
                        await queue.add(name)
                        if i % 500 == 0 { await counter.sampleDepth(await queue.depth) }
                    }
                }
                // Let the workers drain, then stop.
                while await queue.depth > 0 { try? await Task.sleep(for: .milliseconds(1)) }
                await queue.shutdown()
            }
        }
        let elapsed = seconds(ContinuousClock.now - start)
        let adds = keys * repeats
        let processed = await counter.count
        let after = rssMiB()

        // Same adds without duplicates, for the ratio.
        let plain = WorkQueue<String>()
        let plainStart = ContinuousClock.now
        for name in names { await plain.add(name) }
        var drained = 0
        while await plain.depth > 0 { if let k = await plain.next() { await plain.done(k); drained += 1 } }
        let plainElapsed = seconds(ContinuousClock.now - plainStart)

        return [
            "### Work queue (\(keys) keys x \(repeats) adds, \(workers) workers, 200 µs per reconcile)",
            "",
            "| measure | value |",
            "|---|---:|",
            String(format: "| adds | %d |", adds),
            String(format: "| reconciles run (de-duplicated) | %d (%.2f%% of adds) |", processed, Double(processed) * 100 / Double(adds)),
            String(format: "| adds per second | %.0f |", Double(adds) / elapsed),
            String(format: "| largest queue depth seen (bound: distinct keys) | %d |", await counter.maxDepth),
            String(format: "| RSS change during the run | %.1f MiB |", after - before),
            String(format: "| unique-key add+next+done per second (baseline) | %.0f |", Double(drained * 3) / plainElapsed),
            "",
        ]
    }

    actor Counter {
        var count = 0
        var maxDepth = 0
        func add() { count += 1 }
        func sampleDepth(_ d: Int) { maxDepth = max(maxDepth, d) }
    }
}
