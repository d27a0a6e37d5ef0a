import Foundation
import Prometheus
import Serving

/// Counters the controller keeps, exported as Prometheus metrics (upstream exports none of its own):
/// `akvs_sync_reconcile_total{reason}`, `akvs_sync_provider_calls_total{result}`,
/// `akvs_sync_kubernetes_writes_total{kind}`, `akvs_sync_duration_seconds`, `akvs_sync_queue_depth`,
/// `akvs_sync_oldest_unsynced_seconds`, `akvs_sync_vault_requests{vault}`, `akvs_sync_vault_budget_waits{vault}`,
/// `akvs_vault_circuit_open{vault}`, and the last attempt and success per SecretSync and AKVSync (`LastAttemptMetrics`).
/// Labels never carry object names or values (only vault hosts).
public actor SyncStatistics {
    public private(set) var reconciles = 0
    public private(set) var providerCalls = 0
    public private(set) var providerFailures = 0
    public private(set) var secretWrites = 0
    public private(set) var statusWrites = 0
    public private(set) var results: [String: Int] = [:]
    public nonisolated let registry: PrometheusCollectorRegistry
    /// When each SecretSync and AKVSync was last tried and last succeeded.
    public nonisolated let attempts: LastAttemptMetrics
    static let buckets: [Double] = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30]

    /// Help texts of the exported metrics (the names are upstream's, or akvs' own where upstream has none).
    static let metric = MetricHelp([
        "akvs_sync_reconcile_total": "SecretSync reconciles by outcome reason.",
        "akvs_sync_duration_seconds": "Seconds taken by one SecretSync reconcile.",
        "akvs_sync_provider_calls_total": "Provider calls by result.",
        "akvs_sync_kubernetes_writes_total": "Kubernetes writes by kind.",
        "akvs_sync_queue_depth": "SecretSyncs waiting in the work queue.",
        "akvs_sync_oldest_unsynced_seconds": "Age of the oldest SecretSync not yet synced.",
        "akvs_sync_vault_requests": "Key Vault requests started per vault.",
        "akvs_sync_vault_budget_waits": "Key Vault requests that waited for the per-vault budget.",
        "akvs_vault_circuit_open": "Whether calls to a vault are paused by the circuit breaker (1) or not (0).",
    ])

    public init(registry: PrometheusCollectorRegistry = PrometheusCollectorRegistry()) {
        self.registry = registry
        self.attempts = LastAttemptMetrics(registry: registry)
    }

    /// Each vault's circuit: open (calls paused) or closed.
    func circuits(_ open: [String: Bool]) {
        for (vault, isOpen) in open {
            registry.makeGauge(descriptor: Self.metric("akvs_vault_circuit_open"), labels: [("vault", vault)]).set(Double(isOpen ? 1 : 0))
        }
    }

    func reconciled(_ reason: SyncReason) {
        reconciles += 1
        results[reason.rawValue, default: 0] += 1
        registry.makeCounter(descriptor: Self.metric("akvs_sync_reconcile_total"), labels: [("reason", reason.rawValue)]).increment()
    }
    func observe(seconds: Double) {
        registry.makeValueHistogram(descriptor: Self.metric("akvs_sync_duration_seconds"), labels: [], buckets: Self.buckets).record(seconds)
    }
    func providerCalled(failed: Bool) {
        providerCalls += 1
        if failed { providerFailures += 1 }
        registry.makeCounter(descriptor: Self.metric("akvs_sync_provider_calls_total"), labels: [("result", failed ? "error" : "ok")]).increment()
    }
    func secretWritten() { secretWrites += 1; registry.makeCounter(descriptor: Self.metric("akvs_sync_kubernetes_writes_total"), labels: [("kind", "secret")]).increment() }
    func statusWritten() { statusWrites += 1; registry.makeCounter(descriptor: Self.metric("akvs_sync_kubernetes_writes_total"), labels: [("kind", "status")]).increment() }
    func gauges(queueDepth: Int, oldestUnsyncedSeconds: Double) {
        registry.makeGauge(descriptor: Self.metric("akvs_sync_queue_depth"), labels: []).set(Double(queueDepth))
        registry.makeGauge(descriptor: Self.metric("akvs_sync_oldest_unsynced_seconds"), labels: []).set(oldestUnsyncedSeconds)
    }

    /// Per-vault request budget use: requests started and those that waited for the budget (totals so far).
    func budget(_ use: [String: (started: Int, waited: Int)]) {
        for (host, value) in use {
            registry.makeGauge(descriptor: Self.metric("akvs_sync_vault_requests"), labels: [("vault", host)]).set(Double(value.started))
            registry.makeGauge(descriptor: Self.metric("akvs_sync_vault_budget_waits"), labels: [("vault", host)]).set(Double(value.waited))
        }
    }

    /// Kubernetes writes so far (Secrets and statuses).
    public var kubernetesWrites: Int { secretWrites + statusWrites }

    /// Prometheus text exposition.
    public nonisolated func render() -> String { registry.emitToString() }
}
