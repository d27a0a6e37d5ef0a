/// Where the provider reports Key Vault calls (`keyvault_request` upstream); only real vault calls are reported, not cache hits.
public protocol ProviderMetricsRecorder: Sendable {
    /// One Key Vault call for an object; `error` is empty on success, else a short error code.
    func keyVaultRequest(objectType: String, objectName: String, error: String, seconds: Double)
}

/// Records nothing.
public struct NoProviderMetrics: ProviderMetricsRecorder {
    public init() {}
    public func keyVaultRequest(objectType: String, objectName: String, error: String, seconds: Double) {}
}
