import AzureProvider
import Foundation
import GRPCCore
import Prometheus
import Serving

/// The upstream provider's histograms (seconds, no unit suffix): `keyvault_request` and `grpc_request`.
public final class PrometheusProviderMetrics: ProviderMetricsRecorder, Sendable {
    public let registry: PrometheusCollectorRegistry
    static let buckets: [Double] = [0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10]

    /// Help texts of the exported metrics (the names are upstream's, or akvs' own where upstream has none).
    static let metric = MetricHelp([
        "keyvault_request": "Seconds taken by Key Vault requests.",
        "grpc_request": "Seconds taken by provider gRPC requests.",
    ])
    static let common: [(String, String)] = [("os_type", "linux"), ("provider", "azure"), ("service_name", "csi-secrets-store-provider-azure")]

    public init(registry: PrometheusCollectorRegistry = PrometheusCollectorRegistry()) { self.registry = registry }

    public func keyVaultRequest(objectType: String, objectName: String, error: String, seconds: Double) {
        registry.makeValueHistogram(descriptor: Self.metric("keyvault_request"),
                                    labels: [("object_type", objectType), ("object_name", objectName), ("error", error)] + Self.common,
                                    buckets: Self.buckets).record(seconds)
    }

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
