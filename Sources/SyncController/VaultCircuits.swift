import Foundation

/// A circuit breaker per vault: when a vault keeps failing (outage, throttling), stop calling it for a while
/// instead of retrying in a loop; Secrets keep their last values meanwhile. Pauses grow while it stays down
/// and carry full jitter, so that recovery does not bring every SecretSync back at once.
actor VaultCircuits {
    struct State {
        var consecutiveFailures = 0
        var openUntil: ContinuousClock.Instant?
        var opens = 0
    }
    let threshold: Int
    let cooldown: Duration
    var states: [String: State] = [:]

    init(threshold: Int, cooldown: Duration) { self.threshold = max(1, threshold); self.cooldown = cooldown }

    /// The remaining pause for `vault`, or nil when calls may go ahead.
    func pause(for vault: String) -> (remaining: Duration, failures: Int)? {
        guard let state = states[vault], let until = state.openUntil else { return nil }
        let now = ContinuousClock.now
        if until <= now { states[vault]?.openUntil = nil; return nil } // half-open: let calls probe
        return (until - now, state.consecutiveFailures)
    }

    func record(_ vault: String, unavailable: Bool) {
        var state = states[vault] ?? State()
        if !unavailable {
            states[vault] = State()
            return
        }
        state.consecutiveFailures += 1
        if state.consecutiveFailures >= threshold, state.openUntil == nil {
            let cap = min(cooldown * (1 << min(state.opens, 10)), .seconds(300))
            let ms = Int(Double(cap.components.seconds) * 1000 + Double(cap.components.attoseconds) / 1e15)
            state.openUntil = .now + .milliseconds(ms / 2 + Int.random(in: 0...max(ms / 2, 1)))
            state.opens += 1
        }
        states[vault] = state
    }

    var openVaults: Int { states.values.filter { ($0.openUntil ?? .now) > .now }.count }

    /// Every vault seen, open (paused) or not.
    var openStates: [String: Bool] { states.mapValues { ($0.openUntil ?? .now) > .now } }
}
