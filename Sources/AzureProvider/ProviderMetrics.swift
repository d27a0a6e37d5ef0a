import Foundation

/// What a validity series is about: the vault, and the namespace and SecretProviderClass the object was fetched for.
public struct ObjectLabels: Sendable, Hashable {
    public var vault: String
    public var namespace: String
    public var secretProviderClass: String
    /// `secret`, `key` or `cert`.
    public var objectType: String
    public var objectName: String
    public init(vault: String, namespace: String, secretProviderClass: String, objectType: String, objectName: String) {
        self.vault = vault; self.namespace = namespace; self.secretProviderClass = secretProviderClass; self.objectType = objectType; self.objectName = objectName
    }
}

/// Where the provider reports Key Vault calls (`keyvault_request` upstream; only real vault calls are reported, not
/// cache hits) and the validity of the objects it delivers.
public protocol ProviderMetricsRecorder: Sendable {
    /// One Key Vault call for an object; `error` is empty on success, else a short error code.
    func keyVaultRequest(objectType: String, objectName: String, error: String, seconds: Double)
    /// The validity of an object a mount or sync delivered (cache hits too: the series stays current).
    func objectValidity(_ labels: ObjectLabels, _ validity: ObjectValidity)
}

extension ProviderMetricsRecorder {
    public func objectValidity(_ labels: ObjectLabels, _ validity: ObjectValidity) {}
}

/// Records nothing.
public struct NoProviderMetrics: ProviderMetricsRecorder {
    public init() {}
    public func keyVaultRequest(objectType: String, objectName: String, error: String, seconds: Double) {}
}
