import Foundation
import Prometheus
import Synchronization

/// When each object (a SecretSync, a SecretProviderClass on a node, an AKVSync) was last tried and last succeeded:
/// `akvs_last_attempt_timestamp_seconds`, `akvs_last_attempt_success` (1 or 0) and `akvs_last_success_timestamp_seconds`,
/// labelled `kind`, `namespace`, `name`. Staleness is `time() - akvs_last_success_timestamp_seconds`.
public final class LastAttemptMetrics: Sendable {
    public let registry: PrometheusCollectorRegistry

    static let metric = MetricHelp([
        "akvs_last_attempt_timestamp_seconds": "When the object was last synced or mounted (successfully or not), seconds since 1970.",
        "akvs_last_attempt_success": "Whether the object's last sync or mount succeeded (1) or failed (0).",
        "akvs_last_success_timestamp_seconds": "When the object was last synced or mounted successfully, seconds since 1970.",
    ])

    public struct Key: Hashable, Sendable {
        public var kind: String
        public var namespace: String
        public var name: String
        public init(kind: String, namespace: String, name: String) { self.kind = kind; self.namespace = namespace; self.name = name }
        var labels: [(String, String)] { [("kind", kind), ("namespace", namespace), ("name", name)] }
    }

    struct Series {
        var attempt: Gauge
        var success: Gauge
        var lastSuccess: Gauge?
    }
    private let series = Mutex<[Key: Series]>([:])

    public init(registry: PrometheusCollectorRegistry) { self.registry = registry }

    /// One attempt's outcome.
    public func record(_ key: Key, success: Bool, at date: Date = Date()) {
        series.withLock { all in
            var entry = all[key] ?? Series(attempt: registry.makeGauge(descriptor: Self.metric("akvs_last_attempt_timestamp_seconds"), labels: key.labels),
                                           success: registry.makeGauge(descriptor: Self.metric("akvs_last_attempt_success"), labels: key.labels))
            entry.attempt.set(date.timeIntervalSince1970)
            entry.success.set(Double(success ? 1 : 0))
            if success {
                entry.lastSuccess = entry.lastSuccess ?? registry.makeGauge(descriptor: Self.metric("akvs_last_success_timestamp_seconds"), labels: key.labels)
                entry.lastSuccess?.set(date.timeIntervalSince1970)
            }
            all[key] = entry
        }
    }

    /// The object is gone: its series go too.
    public func remove(_ key: Key) {
        guard let entry = series.withLock({ $0.removeValue(forKey: key) }) else { return }
        registry.unregisterGauge(entry.attempt)
        registry.unregisterGauge(entry.success)
        if let last = entry.lastSuccess { registry.unregisterGauge(last) }
    }
}
