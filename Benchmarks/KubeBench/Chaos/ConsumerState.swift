import Foundation

/// What each consumer (a file in a mounted volume, a key of a synced Secret) holds now, by generation.
actor ConsumerState {
    struct Held: Sendable { var object: Int; var gen: Int; var lag: Duration }
    private var held: [String: Held] = [:]

    func set(_ id: String, object: Int, gen: Int, lag: Duration) { held[id] = Held(object: object, gen: gen, lag: lag) }
    func all() -> [String: Held] { held }
    func remove(_ id: String) { held[id] = nil }
    var count: Int { held.count }
}

/// Once a second: the worst staleness over all consumers, and whether every one is within its lag.
func sampleFreshness(consumers: ConsumerState, ledger: ChaosLedger, recorder: ChaosRecorder, expected: Int) async -> (worst: Duration, stale: Int, behind: Int) {
    let now = ContinuousClock.now
    var worst = Duration.zero, stale = 0, behind = 0
    let held = await consumers.all()
    for (_, h) in held {
        let s = await ledger.staleness(object: h.object, gen: h.gen, now: now)
        if s > .zero { behind += 1 }
        if s > h.lag { stale += 1 }
        worst = max(worst, s)
    }
    let missing = expected - held.count
    await recorder.sample(worst: worst, allFresh: stale == 0 && missing <= 0)
    return (worst, stale, behind)
}
