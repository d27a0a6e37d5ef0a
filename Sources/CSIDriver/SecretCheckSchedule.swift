/// When each class's synced Secrets were last checked against the mounted files on this node, without a provider
/// call: at most once per interval per class (a Secret deleted under running pods comes back, every local pod owns it
/// again), and at once when the class's `secretObjects` changed.
actor SecretCheckSchedule {
    private var last: [String: (at: ContinuousClock.Instant, shape: String)] = [:]

    /// Whether `key`'s Secrets are due for a check now; if so, the check is counted as done.
    func due(_ key: String, shape: String, every interval: Duration, now: ContinuousClock.Instant = .now) -> Bool {
        if let previous = last[key], previous.shape == shape, now - previous.at < interval { return false }
        last[key] = (now, shape)
        return true
    }

    /// Forgets `key` (its last volume on this node is gone).
    func forget(_ key: String) { last[key] = nil }
}
