/// Counters the controller keeps (exported as metrics; read by tests and benchmarks).
public actor SyncStatistics {
    public private(set) var reconciles = 0
    public private(set) var providerCalls = 0
    public private(set) var providerFailures = 0
    public private(set) var secretWrites = 0
    public private(set) var statusWrites = 0
    public private(set) var results: [String: Int] = [:]

    public init() {}

    func reconciled(_ reason: SyncReason) { reconciles += 1; results[reason.rawValue, default: 0] += 1 }
    func providerCalled(failed: Bool) { providerCalls += 1; if failed { providerFailures += 1 } }
    func secretWritten() { secretWrites += 1 }
    func statusWritten() { statusWrites += 1 }

    /// Kubernetes writes so far (Secrets and statuses).
    public var kubernetesWrites: Int { secretWrites + statusWrites }
}
