/// An async semaphore bounding concurrent requests to one vault; waiters are served in order.
public actor ConcurrencyLimiter {
    private let limit: Int
    private var running = 0
    private var waiters: [CheckedContinuation<Void, Never>] = []

    public init(limit: Int) { self.limit = max(1, limit) }

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
        if running < limit { running += 1; return }
        await withCheckedContinuation { waiters.append($0) }
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

    public init(perVault: Int = 32) { self.perVault = perVault }

    public func limiter(for host: String) -> ConcurrencyLimiter {
        if let existing = limiters[host] { return existing }
        let created = ConcurrencyLimiter(limit: perVault)
        limiters[host] = created
        return created
    }
}
