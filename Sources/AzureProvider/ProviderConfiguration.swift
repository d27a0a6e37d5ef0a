import Foundation

/// Process-wide provider settings (upstream flags where they exist).
public struct ProviderConfiguration: Sendable {
    /// `--cloud-name`: the cloud used when an SPC sets no cloudName.
    public var defaultCloudName: String
    /// `--construct-pem-chain`: order certificate chains leaf → root.
    public var constructPEMChain: Bool
    /// `--write-cert-and-key-in-separate-files`: also emit `<file>.crt` and `<file>.key`.
    public var writeCertAndKeyInSeparateFiles: Bool
    /// IMDS base URL for useVMManagedIdentity.
    public var imdsEndpoint: URL
    /// How long a fetched object may be served to another mount of the same identity.
    public var objectCacheTTL: Duration
    /// Upper bound of cached objects.
    public var objectCacheCapacity: Int

    public init(defaultCloudName: String = "AzurePublicCloud", constructPEMChain: Bool = true, writeCertAndKeyInSeparateFiles: Bool = false,
                imdsEndpoint: URL = ProviderConfiguration.defaultIMDSEndpoint, objectCacheTTL: Duration = .seconds(60), objectCacheCapacity: Int = 10_000) {
        self.defaultCloudName = defaultCloudName; self.constructPEMChain = constructPEMChain
        self.writeCertAndKeyInSeparateFiles = writeCertAndKeyInSeparateFiles; self.imdsEndpoint = imdsEndpoint
        self.objectCacheTTL = objectCacheTTL; self.objectCacheCapacity = objectCacheCapacity
    }

    /// `AZURE_POD_IDENTITY_AUTHORITY_HOST` when set (as azure-identity honours it), else Azure's IMDS address.
    public static var defaultIMDSEndpoint: URL {
        if let override = ProcessInfo.processInfo.environment["AZURE_POD_IDENTITY_AUTHORITY_HOST"], let url = URL(string: override) { return url }
        return URL(string: "http://169.254.169.254")!
    }
}
