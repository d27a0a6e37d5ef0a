import Prometheus
import Serving

/// The restarter's metrics: restarts per workload, changes folded into a pending restart, and waits by reason.
public final class RestartMetrics: Sendable {
    public let registry: PrometheusCollectorRegistry

    static let metric = MetricHelp([
        "akvs_restarts_total": "Rollout restarts made because an input of the workload changed.",
        "akvs_restart_changes_debounced_total": "Changes that joined a restart already pending within the debounce window.",
        "akvs_restart_waits_total": "Restarts held back, by reason: rollout (the previous one still in progress), limit (--max-concurrent-restarts), paused.",
        "akvs_restart_watched_workloads": "Annotated workloads the restarter watches.",
        "akvs_restart_pending": "Restarts waiting for their debounce window, a rollout or a slot.",
    ])

    public init(registry: PrometheusCollectorRegistry = PrometheusCollectorRegistry()) { self.registry = registry }

    func restarted(kind: WorkloadKind, namespace: String, name: String) {
        registry.makeCounter(descriptor: Self.metric("akvs_restarts_total"), labels: [("kind", kind.rawValue), ("name", name), ("namespace", namespace)]).increment()
    }

    func debounced() {
        registry.makeCounter(descriptor: Self.metric("akvs_restart_changes_debounced_total")).increment()
    }

    func waited(_ reason: WaitReason) {
        registry.makeCounter(descriptor: Self.metric("akvs_restart_waits_total"), labels: [("reason", reason.rawValue)]).increment()
    }

    func gauges(watched: Int, pending: Int) {
        registry.makeGauge(descriptor: Self.metric("akvs_restart_watched_workloads")).set(Double(watched))
        registry.makeGauge(descriptor: Self.metric("akvs_restart_pending")).set(Double(pending))
    }

    /// Prometheus text exposition.
    public func render() -> String { registry.emitToString() }
}

/// Why a due restart did not happen yet.
enum WaitReason: String, Sendable { case rollout, limit, paused }
