import Foundation
import Prometheus
import Serving

/// The upstream driver's metrics with their exported names and labels (counters carry the `_total` suffix the
/// OpenTelemetry Prometheus exporter adds; Azure's docs still show the older `total_node_publish` names).
public final class DriverMetrics: Sendable {
    public let registry: PrometheusCollectorRegistry
    let osType: String
    /// When each SecretProviderClass mounted on this node was last published or rotated, and last successfully.
    public let attempts: LastAttemptMetrics
    /// ExponentialBucketsRange(0.1, 2, 11), as upstream.
    static let buckets: [Double] = (0..<11).map { 0.1 * pow(20.0, Double($0) / 10.0) }

    /// Help texts of the exported metrics (the names are upstream's, or akvs' own where upstream has none).
    static let metric = MetricHelp([
        "node_publish_total": "Successful NodePublishVolume calls.",
        "node_publish_error_total": "Failed NodePublishVolume calls.",
        "node_unpublish_total": "Successful NodeUnpublishVolume calls.",
        "node_unpublish_error_total": "Failed NodeUnpublishVolume calls.",
        "sync_k8s_secret_total": "Kubernetes Secrets synced from secretObjects.",
        "k8s_secret_duration_sec": "Seconds taken to sync Kubernetes Secrets.",
        "rotation_reconcile_total": "Rotation reconciles (republishes that called the provider).",
        "rotation_reconcile_duration_sec": "Seconds taken by a rotation reconcile.",
        "rotation_reconcile_error_total": "Failed rotation reconciles.",
        "akvs_mount_served_stale_total": "Mounts and rotations served from the last good content because the vault could not be read.",
    ])

    public init(registry: PrometheusCollectorRegistry = PrometheusCollectorRegistry(), osType: String = "linux") {
        self.registry = registry
        self.osType = osType
        self.attempts = LastAttemptMetrics(registry: registry)
    }

    func nodePublish(provider: String) {
        registry.makeCounter(descriptor: Self.metric("node_publish_total"), labels: [("os_type", osType), ("provider", provider)]).increment()
    }

    func nodePublishError(provider: String, errorType: String) {
        registry.makeCounter(descriptor: Self.metric("node_publish_error_total"), labels: [("error_type", errorType), ("os_type", osType), ("provider", provider)]).increment()
    }

    func nodeUnpublish() {
        registry.makeCounter(descriptor: Self.metric("node_unpublish_total"), labels: [("os_type", osType)]).increment()
    }

    func nodeUnpublishError(errorType: String) {
        registry.makeCounter(descriptor: Self.metric("node_unpublish_error_total"), labels: [("error_type", errorType), ("os_type", osType)]).increment()
    }

    func syncSecret(provider: String, seconds: Double) {
        registry.makeCounter(descriptor: Self.metric("sync_k8s_secret_total"), labels: [("os_type", osType), ("provider", provider)]).increment()
        registry.makeValueHistogram(descriptor: Self.metric("k8s_secret_duration_sec"), labels: [("os_type", osType)], buckets: Self.buckets).record(seconds)
    }

    func rotation(provider: String, rotated: Bool, seconds: Double) {
        registry.makeCounter(descriptor: Self.metric("rotation_reconcile_total"), labels: [("os_type", osType), ("provider", provider), ("rotated", rotated ? "true" : "false")]).increment()
        registry.makeValueHistogram(descriptor: Self.metric("rotation_reconcile_duration_sec"), labels: [("os_type", osType)], buckets: Self.buckets).record(seconds)
    }

    func rotationError(provider: String, errorType: String) {
        registry.makeCounter(descriptor: Self.metric("rotation_reconcile_error_total"), labels: [("error_type", errorType), ("os_type", osType), ("provider", provider)]).increment()
    }

    /// A mount served from the node's last good content, or a rotation that kept it, because the vault could not be read.
    func servedStale(namespace: String, secretProviderClass: String) {
        registry.makeCounter(descriptor: Self.metric("akvs_mount_served_stale_total"),
                             labels: [("namespace", namespace), ("secret_provider_class", secretProviderClass)]).increment()
    }

    /// Prometheus text exposition.
    public func render() -> String { registry.emitToString() }

    static func seconds(since start: ContinuousClock.Instant) -> Double {
        let d = ContinuousClock.now - start
        return Double(d.components.seconds) + Double(d.components.attoseconds) / 1e18
    }
}
