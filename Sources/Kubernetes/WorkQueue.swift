import DequeModule
import HeapModule

/// How long a failing item waits: per-item exponential backoff, and an overall token bucket so that
/// many failing items together cannot hammer the API server (client-go's default controller rate limiter).
public struct RateLimiterSettings: Sendable {
    public var baseDelay: Duration
    public var maxDelay: Duration
    /// Overall retries per second and burst.
    public var qps: Double
    public var burst: Int
    public init(baseDelay: Duration = .milliseconds(5), maxDelay: Duration = .seconds(1000), qps: Double = 10, burst: Int = 100) {
        self.baseDelay = baseDelay; self.maxDelay = maxDelay; self.qps = qps; self.burst = burst
    }
}

/// A de-duplicating work queue shared by reconcilers, as in controller-runtime: a key queued several
/// times is processed once; a key added while being processed is processed again after `done`; a key
/// is never processed by two workers at once. Size is bounded by the number of distinct keys.
public actor WorkQueue<Key: Hashable & Sendable> {
    var queue: Deque<Key> = []
    /// Served before `queue`: work a user is waiting for (new or edited objects) goes ahead of periodic refreshes.
    var urgent: Deque<Key> = []
    /// Which lane each waiting key is in (true: urgent). A key moved to the urgent lane leaves a stale entry in
    /// `queue` that `next` skips, so the move is O(1) rather than a search of the lane (O(n²) for a fleet's start).
    var lane: [Key: Bool] = [:]
    var dirty: Set<Key> = []
    var processing: Set<Key> = []
    var waiters: Deque<CheckedContinuation<Key?, Never>> = []
    var shuttingDown = false

    // Delayed adds: the earliest due time wins; one timer task sleeps until the next one.
    var delayed: [Key: ContinuousClock.Instant] = [:]
    /// Due times in order; entries whose time no longer matches `delayed` are stale and skipped.
    var dueTimes = Heap<Due>()
    var sequence = 0
    struct Due: Comparable {
        var at: ContinuousClock.Instant
        var sequence: Int
        var key: Key
        static func < (a: Due, b: Due) -> Bool { (a.at, a.sequence) < (b.at, b.sequence) }
        static func == (a: Due, b: Due) -> Bool { a.at == b.at && a.sequence == b.sequence }
    }
    var timer: Task<Void, Never>?
    var timerDeadline: ContinuousClock.Instant?

    let limits: RateLimiterSettings
    var failures: [Key: Int] = [:]
    var tokens: Double
    var lastRefill = ContinuousClock.now

    /// Keys added (including duplicates), for metrics.
    public private(set) var adds = 0

    public init(rateLimiter: RateLimiterSettings = .init()) {
        self.limits = rateLimiter
        self.tokens = Double(rateLimiter.burst)
    }

    /// Items waiting (not counting delayed ones or those being processed).
    public var depth: Int { lane.count }
    public var delayedCount: Int { delayed.count }

    public func add(_ key: Key) {
        adds += 1
        guard !shuttingDown, !dirty.contains(key) else { return }
        dirty.insert(key)
        if processing.contains(key) { return }
        if let waiter = waiters.popFirst() {
            dirty.remove(key)
            processing.insert(key)
            waiter.resume(returning: key)
        } else {
            queue.append(key); lane[key] = false
        }
    }

    /// Adds ahead of ordinary work; a key already waiting in the ordinary lane moves ahead.
    public func addUrgent(_ key: Key) {
        adds += 1
        guard !shuttingDown else { return }
        delayed.removeValue(forKey: key)
        if dirty.contains(key) {
            if lane[key] == false { lane[key] = true; urgent.append(key) }
            return
        }
        dirty.insert(key)
        if processing.contains(key) { return }
        if let waiter = waiters.popFirst() {
            dirty.remove(key); processing.insert(key)
            waiter.resume(returning: key)
        } else {
            urgent.append(key); lane[key] = true
        }
    }

    /// Adds after `delay`; a key already waiting keeps the earlier time.
    public func add(_ key: Key, after delay: Duration) {
        guard !shuttingDown else { return }
        if delay <= .zero { add(key); return }
        let due = ContinuousClock.now + delay
        if let existing = delayed[key], existing <= due { return }
        delayed[key] = due
        sequence += 1
        dueTimes.insert(Due(at: due, sequence: sequence, key: key))
        scheduleTimer()
    }

    /// Adds after the rate limiter's delay for this key (call after a failed reconcile).
    public func addRateLimited(_ key: Key) {
        add(key, after: delay(for: key))
    }

    /// The key succeeded: its backoff starts over.
    public func forget(_ key: Key) { failures.removeValue(forKey: key) }
    public func failureCount(_ key: Key) -> Int { failures[key] ?? 0 }

    /// The next key to process; nil once the queue is shut down and drained.
    public func next() async -> Key? {
        if let key = Self.pop(&urgent, lane: true, &lane) ?? Self.pop(&queue, lane: false, &lane) {
            dirty.remove(key)
            processing.insert(key)
            return key
        }
        if shuttingDown { return nil }
        return await withCheckedContinuation { waiters.append($0) }
    }

    /// Processing of `key` finished; if it was added meanwhile it is queued again.
    public func done(_ key: Key) {
        processing.remove(key)
        if dirty.contains(key) {
            if let waiter = waiters.popFirst() {
                dirty.remove(key); processing.insert(key)
                waiter.resume(returning: key)
            } else {
                queue.append(key); lane[key] = false
            }
        }
    }

    /// The first entry of a lane that is still in it (skipping entries left behind by a move to the urgent lane).
    static func pop(_ deque: inout Deque<Key>, lane wanted: Bool, _ lanes: inout [Key: Bool]) -> Key? {
        while let key = deque.popFirst() {
            if lanes[key] == wanted { lanes[key] = nil; return key }
        }
        return nil
    }

    public func shutdown() {
        shuttingDown = true
        timer?.cancel()
        while let waiter = waiters.popFirst() { waiter.resume(returning: nil) }
    }

    // MARK: rate limiting

    func delay(for key: Key) -> Duration {
        let n = failures[key, default: 0]
        failures[key] = n + 1
        let perItem = min(limits.baseDelay * (1 << min(n, 30)), limits.maxDelay)
        // Token bucket: each retry takes a token; when none is left the retry waits for the refill.
        let now = ContinuousClock.now
        let elapsed = now - lastRefill
        lastRefill = now
        let seconds = Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) / 1e18
        tokens = min(Double(limits.burst), tokens + seconds * limits.qps)
        tokens -= 1
        let bucket: Duration = tokens >= 0 ? .zero : .milliseconds(Int(-tokens / limits.qps * 1000))
        return max(perItem, bucket)
    }

    func scheduleTimer() {
        while let top = dueTimes.min, delayed[top.key] != top.at { _ = dueTimes.popMin() }
        guard let earliest = dueTimes.min?.at else { return }
        if let timerDeadline, timerDeadline <= earliest, timer != nil { return }
        timer?.cancel()
        timerDeadline = earliest
        timer = Task { [weak self] in
            try? await Task.sleep(until: earliest, clock: .continuous)
            guard !Task.isCancelled else { return }
            await self?.fireTimer()
        }
    }

    func fireTimer() {
        timer = nil; timerDeadline = nil
        let now = ContinuousClock.now
        while let top = dueTimes.min, top.at <= now {
            _ = dueTimes.popMin()
            guard delayed[top.key] == top.at else { continue }
            delayed.removeValue(forKey: top.key)
            add(top.key)
        }
        scheduleTimer()
    }
}
