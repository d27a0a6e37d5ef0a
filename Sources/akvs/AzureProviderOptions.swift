import ArgumentParser
import AzureIdentity
import AzureProvider
import Foundation

/// The Azure provider's own flags (upstream names), shared by `akvs provider` and `akvs csi-driver --azure-provider in-process`.
struct AzureProviderOptions: ParsableArguments {
    @Option(name: .customLong("construct-pem-chain"), help: "Order certificate chains leaf to root.")
    var constructPEMChain: Bool = true

    @Option(name: .customLong("write-cert-and-key-in-separate-files"), help: "Also write <file>.crt and <file>.key for certificates.")
    var writeCertAndKeyInSeparateFiles: Bool = false

    @Option(name: .customLong("cloud-name"), help: "Cloud used when an SPC sets no cloudName.")
    var cloudName: String = "AzurePublicCloud"

    @Option(name: .customLong("object-cache-ttl"),
            help: "Seconds a fetched object is shared with other mounts of the same identity (0 disables; provider default 60, in-process driver default its rotation interval).")
    var objectCacheTTL: Int?

    @Option(name: .customLong("ca-file"), help: "Extra CA bundle to trust (e.g. the emulator's ca.pem).")
    var caFile: String?

    @Option(name: .customLong("imds-endpoint"), help: "IMDS base URL for useVMManagedIdentity (default: AZURE_POD_IDENTITY_AUTHORITY_HOST or 169.254.169.254).")
    var imdsEndpoint: String?

    /// Whether any of these flags was given (they mean nothing to a driver that calls the provider over its socket).
    var anyGiven: Bool {
        !constructPEMChain || writeCertAndKeyInSeparateFiles || cloudName != "AzurePublicCloud" || objectCacheTTL != nil || caFile != nil || imdsEndpoint != nil
    }

    /// The provider configuration; flag errors are usage errors naming the flag.
    func configuration(defaultTTL: Duration, into report: inout EffectiveConfiguration) throws -> ProviderConfiguration {
        if let objectCacheTTL, objectCacheTTL < 0 { throw ValidationError("--object-cache-ttl must be 0 or more seconds") }
        do { _ = try AzureCloud.named(cloudName) } catch {
            // AzureStackCloud is valid here: its endpoints come from each SPC's cloudEnvFileName.
            if case .unknownCloud = error {
                throw ValidationError("--cloud-name '\(cloudName)' is not a known cloud; use AzurePublicCloud, AzureUSGovernmentCloud, AzureChinaCloud or AzureStackCloud")
            }
        }
        try checkCAFile(caFile)
        let ttl = objectCacheTTL.map { Duration.seconds($0) } ?? defaultTTL
        var config = ProviderConfiguration(defaultCloudName: cloudName, constructPEMChain: constructPEMChain,
                                           writeCertAndKeyInSeparateFiles: writeCertAndKeyInSeparateFiles, objectCacheTTL: ttl)
        if let imds = imdsEndpoint {
            guard let url = URL(string: imds), url.scheme == "http" || url.scheme == "https", url.host != nil else {
                throw ValidationError("--imds-endpoint '\(imds)' must be a URL such as http://169.254.169.254")
            }
            config.imdsEndpoint = url
        }
        report.add("construct-pem-chain", constructPEMChain)
        report.add("write-cert-and-key-in-separate-files", writeCertAndKeyInSeparateFiles)
        report.add("cloud-name", cloudName)
        report.add("object-cache-ttl", "\(ttl)")
        report.add("ca-file", caFile ?? "none (system trust store)")
        report.add("imds-endpoint", imdsEndpoint ?? "default (AZURE_POD_IDENTITY_AUTHORITY_HOST or 169.254.169.254)")
        return config
    }
}
