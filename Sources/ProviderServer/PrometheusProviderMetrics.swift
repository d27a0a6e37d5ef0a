import AzureProvider
import Foundation
import GRPCCore
import Prometheus
import Serving

/// The upstream provider's histograms (seconds, no unit suffix): `keyvault_request` (with the vault metrics every
/// role shares, `VaultMetrics`) and `grpc_request`.
public final class PrometheusProviderMetrics: ProviderMetricsRecorder, Sendable {
    public let registry: PrometheusCollectorRegistry
    /// The vault side (also the session's reply observer).
    public let vault: VaultMetrics
    static let buckets = VaultMetrics.buckets

    /// Help texts of the exported metrics (the names are upstream's, or akvs' own where upstream has none).
    static let metric = MetricHelp([
        "grpc_request": "Seconds taken by provider gRPC requests.",
    ])
    static let common = VaultMetrics.common

    public init(registry: PrometheusCollectorRegistry = PrometheusCollectorRegistry()) {
        self.registry = registry
        self.vault = VaultMetrics(registry: registry)
    }

    public func keyVaultRequest(objectType: String, objectName: String, error: String, seconds: Double) {
        vault.keyVaultRequest(objectType: objectType, objectName: objectName, error: error, seconds: seconds)
    }

    public func objectValidity(_ labels: ObjectLabels, _ validity: ObjectValidity) { vault.objectValidity(labels, validity) }

    func grpcRequest(method: String, code: String, message: String, seconds: Double) {
        registry.makeValueHistogram(descriptor: Self.metric("grpc_request"),
                                    labels: [("grpc_method", method), ("grpc_code", code), ("grpc_message", message)] + Self.common,
                                    buckets: Self.buckets).record(seconds)
    }

    /// Runs a handler and records `grpc_request` with its outcome.
    func timeGRPC<T: Sendable>(method: String, _ body: () async throws -> T) async throws -> T {
        let start = ContinuousClock.now
        do {
            let value = try await body()
            grpcRequest(method: method, code: "OK", message: "", seconds: elapsed(since: start))
            return value
        } catch let error as RPCError {
            // The message can be long; keep the label bounded and value-free (it never holds secret values).
            grpcRequest(method: method, code: "\(error.code)", message: String(error.message.prefix(120)), seconds: elapsed(since: start))
            throw error
        }
    }

    /// Prometheus text exposition.
    public func render() -> String { registry.emitToString() }

    func elapsed(since start: ContinuousClock.Instant) -> Double {
        let d = ContinuousClock.now - start
        return Double(d.components.seconds) + Double(d.components.attoseconds) / 1e18
    }
}
