/// An async semaphore bounding concurrent requests to one vault (waiters are served in order), and
/// optionally a request budget: a token bucket so that a fleet of callers stays under the vault's limit.
public actor ConcurrencyLimiter {
    private let limit: Int
    private var running = 0
    private var waiters: [CheckedContinuation<Void, Never>] = []
    private let rate: Double?
    private let burst: Double
    private var tokens: Double
    private var lastRefill = ContinuousClock.now
    /// Requests that had to wait for the budget.
    public private(set) var budgetWaits = 0
    /// Requests started.
    public private(set) var started = 0

    /// `requestsPerSecond` nil means no budget.
    public init(limit: Int, requestsPerSecond: Double? = nil, burst: Int? = nil) {
        self.limit = max(1, limit)
        self.rate = requestsPerSecond.flatMap { $0 > 0 ? $0 : nil }
        self.burst = Double(max(1, burst ?? Int(requestsPerSecond ?? 1)))
        self.tokens = self.burst
    }

    /// Runs `body` once a slot is free.
    public nonisolated func run<T: Sendable, E: Error>(_ body: @Sendable () async throws(E) -> T) async throws(E) -> T {
        await acquire()
        do {
            let result = try await body()
            await release()
            return result
        } catch {
            await release()
            throw error
        }
    }

    func acquire() async {
        if running < limit { running += 1 } else { await withCheckedContinuation { waiters.append($0) } }
        await spend()
    }

    /// Takes one request from the budget (waiting for it to refill when spent), without a concurrency slot:
    /// a retry inside `run` is another request to the vault and pays like one.
    public func spend() async {
        started += 1
        guard let rate else { return }
        let now = ContinuousClock.now
        let elapsed = now - lastRefill
        lastRefill = now
        tokens = min(burst, tokens + (Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) / 1e18) * rate)
        tokens -= 1
        if tokens < 0 {
            budgetWaits += 1
            try? await Task.sleep(for: .milliseconds(Int(-tokens / rate * 1000)))
        }
    }

    func release() {
        if waiters.isEmpty { running -= 1 } else { waiters.removeFirst().resume() }
    }

    /// Requests running now.
    public var inUse: Int { running }
}

/// One limiter per vault host, shared by every client of that vault.
public actor VaultLimiters {
    private var limiters: [String: ConcurrencyLimiter] = [:]
    private let perVault: Int
    private let requestsPerSecond: Double?
    private let burst: Int?

    /// `requestsPerSecond` sets a per-vault request budget (Key Vault allows about 4,000 requests per 10 s per vault).
    public init(perVault: Int = 32, requestsPerSecond: Double? = nil, burst: Int? = nil) {
        self.perVault = perVault; self.requestsPerSecond = requestsPerSecond; self.burst = burst
    }

    public func limiter(for host: String) -> ConcurrencyLimiter {
        if let existing = limiters[host] { return existing }
        let created = ConcurrencyLimiter(limit: perVault, requestsPerSecond: requestsPerSecond, burst: burst)
        limiters[host] = created
        return created
    }
}

extension VaultLimiters {
    /// Budget use per vault host: requests started and those that waited for the budget.
    public func budgetUse() async -> [String: (started: Int, waited: Int)] {
        var result: [String: (started: Int, waited: Int)] = [:]
        for (host, limiter) in limiters { result[host] = (await limiter.started, await limiter.budgetWaits) }
        return result
    }
}
