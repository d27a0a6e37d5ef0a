import AzureIdentity
import Foundation
import Prometheus
import Serving
import Synchronization

/// The vault side of every role's metrics: upstream's `keyvault_request`, the validity of each delivered object
/// (`akvs_object_expiry_timestamp_seconds`, `akvs_object_not_before_timestamp_seconds`) and every Key Vault and
/// Entra reply by status and error code (`akvs_keyvault_responses_total`, `akvs_entra_responses_total`). Labels
/// are bounded: vault, namespace, class, object, and codes reduced to a known shape; never a value.
public final class VaultMetrics: ProviderMetricsRecorder, AzureReplyObserver, Sendable {
    public let registry: PrometheusCollectorRegistry
    /// A validity series not refreshed for this long (its class or object is gone) is removed.
    let retention: Duration
    /// Upstream's `keyvault_request` and `grpc_request` buckets (seconds).
    public static let buckets: [Double] = [0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10]
    /// The constant labels of upstream's provider metrics.
    public static let common: [(String, String)] = [("os_type", "linux"), ("provider", "azure"), ("service_name", "csi-secrets-store-provider-azure")]

    /// Help texts of the exported metrics (the names are upstream's, or akvs' own where upstream has none).
    static let metric = MetricHelp([
        "keyvault_request": "Seconds taken by Key Vault requests.",
        "akvs_object_expiry_timestamp_seconds": "When an object fetched from Key Vault expires (its exp attribute; a certificate's notAfter when earlier), seconds since 1970.",
        "akvs_object_not_before_timestamp_seconds": "When an object fetched from Key Vault becomes valid (its nbf attribute; a certificate's notBefore when later), seconds since 1970.",
        "akvs_keyvault_responses_total": "Key Vault replies by status (2xx, 401, 403, 404, 409, 429, 4xx, 5xx, network) and Key Vault error code.",
        "akvs_entra_responses_total": "Entra ID token replies by status (2xx, 4xx codes, 5xx, network) and AADSTS code.",
    ])

    struct Series {
        var expiry: Gauge?
        var notBefore: Gauge?
        var lastSeen: ContinuousClock.Instant
    }
    private let series = Mutex<[ObjectLabels: Series]>([:])

    public init(registry: PrometheusCollectorRegistry = PrometheusCollectorRegistry(), retention: Duration = .seconds(24 * 3600)) {
        self.registry = registry
        self.retention = retention
    }

    public func keyVaultRequest(objectType: String, objectName: String, error: String, seconds: Double) {
        registry.makeValueHistogram(descriptor: Self.metric("keyvault_request"),
                                    labels: [("object_type", objectType), ("object_name", objectName), ("error", error)] + Self.common,
                                    buckets: Self.buckets).record(seconds)
    }

    public func objectValidity(_ labels: ObjectLabels, _ validity: ObjectValidity) {
        let values = [("vault", labels.vault), ("namespace", labels.namespace), ("secret_provider_class", labels.secretProviderClass),
                      ("object", labels.objectName), ("object_type", labels.objectType)]
        let now = ContinuousClock.now
        let stale: [Series] = series.withLock { all in
            var entry = all[labels] ?? Series(lastSeen: now)
            entry.lastSeen = now
            if let expires = validity.expires {
                entry.expiry = entry.expiry ?? registry.makeGauge(descriptor: Self.metric("akvs_object_expiry_timestamp_seconds"), labels: values)
                entry.expiry?.set(expires.timeIntervalSince1970)
            }
            if let notBefore = validity.notBefore {
                entry.notBefore = entry.notBefore ?? registry.makeGauge(descriptor: Self.metric("akvs_object_not_before_timestamp_seconds"), labels: values)
                entry.notBefore?.set(notBefore.timeIntervalSince1970)
            }
            all[labels] = entry
            let gone = all.filter { now - $0.value.lastSeen > retention }
            for key in gone.keys { all.removeValue(forKey: key) }
            return Array(gone.values)
        }
        for old in stale {
            if let gauge = old.expiry { registry.unregisterGauge(gauge) }
            if let gauge = old.notBefore { registry.unregisterGauge(gauge) }
        }
    }

    public func keyVaultReply(vault: String, status: Int?, error: String) {
        registry.makeCounter(descriptor: Self.metric("akvs_keyvault_responses_total"),
                             labels: [("vault", vault), ("code", Self.code(status)), ("error", Self.errorCode(error))]).increment()
    }

    public func entraReply(tenant: String, status: Int?, aadsts: String) {
        let code = aadsts.hasPrefix("AADSTS") && aadsts.count <= 16 && aadsts.dropFirst(6).allSatisfy(\.isNumber) ? aadsts : ""
        registry.makeCounter(descriptor: Self.metric("akvs_entra_responses_total"),
                             labels: [("tenant", Self.errorCode(tenant)), ("code", Self.code(status)), ("aadsts", code)]).increment()
    }

    /// `2xx`, the client errors that tell different stories, other `4xx`, `5xx`, or `network` (no reply).
    static func code(_ status: Int?) -> String {
        guard let status else { return "network" }
        switch status {
        case 200..<300: return "2xx"
        case 401, 403, 404, 409, 429: return String(status)
        case 400..<500: return "4xx"
        case 500..<600: return "5xx"
        default: return "other"
        }
    }

    /// A service's error code as a label: letters, digits, `-`, `_` and `.`, at most 64 of them; anything else (a hostile
    /// reply) becomes `other`, so a label can neither grow without bound nor carry text.
    static func errorCode(_ text: String) -> String {
        guard text.count <= 64, text.allSatisfy({ $0.isASCII && ($0.isLetter || $0.isNumber || "-_.".contains($0)) }) else { return "other" }
        return text
    }

    /// Prometheus text exposition.
    public func render() -> String { registry.emitToString() }
}
