import Foundation

/// An Azure cloud: where Entra ID and Key Vault live and which token audience Key Vault expects.
public struct AzureCloud: Sendable, Equatable {
    /// Environment name, e.g. `AzurePublicCloud`.
    public var name: String
    /// Entra authority host, e.g. `https://login.microsoftonline.com/`.
    public var activeDirectoryEndpoint: URL
    /// DNS suffix of vault hosts (may carry a port, as the emulator's does).
    public var keyVaultDNSSuffix: String
    /// Token resource (audience) of Key Vault, without trailing slash.
    public var keyVaultResource: String
    /// When set, every connection for this cloud goes to this `host:port` while the
    /// Host header keeps the real name (the emulator's `akvsConnectAddress`).
    public var connectAddress: String?

    public init(name: String, activeDirectoryEndpoint: URL, keyVaultDNSSuffix: String, keyVaultResource: String, connectAddress: String? = nil) {
        self.name = name
        self.activeDirectoryEndpoint = activeDirectoryEndpoint
        self.keyVaultDNSSuffix = keyVaultDNSSuffix
        self.keyVaultResource = keyVaultResource
        self.connectAddress = connectAddress
    }

    /// Scope to request tokens for Key Vault.
    public var keyVaultScope: String { keyVaultResource + "/.default" }

    /// The URL of a vault in this cloud.
    public func vaultURL(name: String) -> URL {
        URL(string: "https://\(name).\(keyVaultDNSSuffix)/")!
    }

    public static let publicCloud = AzureCloud(
        name: "AzurePublicCloud",
        activeDirectoryEndpoint: URL(string: "https://login.microsoftonline.com/")!,
        keyVaultDNSSuffix: "vault.azure.net",
        keyVaultResource: "https://vault.azure.net")
    public static let usGovernment = AzureCloud(
        name: "AzureUSGovernmentCloud",
        activeDirectoryEndpoint: URL(string: "https://login.microsoftonline.us/")!,
        keyVaultDNSSuffix: "vault.usgovcloudapi.net",
        keyVaultResource: "https://vault.usgovcloudapi.net")
    public static let china = AzureCloud(
        name: "AzureChinaCloud",
        activeDirectoryEndpoint: URL(string: "https://login.chinacloudapi.cn/")!,
        keyVaultDNSSuffix: "vault.azure.cn",
        keyVaultResource: "https://vault.azure.cn")

    /// Resolves a `cloudName` as the upstream provider does (case-insensitive; empty means public).
    /// `AzureStackCloud` needs an environment file.
    public static func named(_ name: String, environmentFile: String? = nil) throws(CloudError) -> AzureCloud {
        let trimmed = name.trimmingCharacters(in: .whitespaces)
        switch trimmed.lowercased() {
        case "", "azurepubliccloud", "azurecloud": return .publicCloud
        case "azureusgovernmentcloud", "azureusgovernment": return .usGovernment
        case "azurechinacloud": return .china
        case "azurestackcloud":
            guard let file = environmentFile, !file.isEmpty else { throw .missingEnvironmentFile }
            return try load(environmentFile: file)
        default: throw .unknownCloud(trimmed)
        }
    }

    /// Loads a go-autorest `Environment` JSON file (the `cloudEnvFileName` format).
    public static func load(environmentFile path: String) throws(CloudError) -> AzureCloud {
        let data: Data
        do { data = try Data(contentsOf: URL(fileURLWithPath: path)) } catch {
            throw .unreadableEnvironmentFile(path: path, reason: "\(error.localizedDescription)")
        }
        return try parse(environmentJSON: data, source: path)
    }

    /// Parses go-autorest `Environment` JSON.
    public static func parse(environmentJSON data: Data, source: String) throws(CloudError) -> AzureCloud {
        let env: EnvironmentFile
        do { env = try JSONDecoder().decode(EnvironmentFile.self, from: data) } catch {
            throw .invalidEnvironmentFile(path: source, field: "(document)", reason: "not valid environment JSON: \(error)")
        }
        guard let ad = env.activeDirectoryEndpoint, let adURL = URL(string: ad), adURL.scheme == "https" else {
            throw .invalidEnvironmentFile(path: source, field: "activeDirectoryEndpoint", reason: "must be an https URL such as https://login.microsoftonline.com/")
        }
        guard let suffix = env.keyVaultDNSSuffix?.trimmingCharacters(in: .whitespaces), !suffix.isEmpty else {
            throw .invalidEnvironmentFile(path: source, field: "keyVaultDNSSuffix", reason: "must name the vault DNS suffix, e.g. vault.azure.net")
        }
        let resource = env.resourceIdentifiers?.keyVault ?? env.keyVaultEndpoint
        guard var res = resource?.trimmingCharacters(in: .whitespaces), res.hasPrefix("https://") else {
            throw .invalidEnvironmentFile(path: source, field: "resourceIdentifiers.keyVault", reason: "must be the Key Vault resource URL, e.g. https://vault.azure.net")
        }
        while res.hasSuffix("/") { res.removeLast() }
        return AzureCloud(name: env.name ?? "AzureStackCloud", activeDirectoryEndpoint: adURL,
                          keyVaultDNSSuffix: suffix, keyVaultResource: res, connectAddress: env.akvsConnectAddress)
    }
}

/// The subset of go-autorest's `Environment` JSON that Key Vault access needs.
public struct EnvironmentFile: Codable, Sendable {
    public struct ResourceIdentifiers: Codable, Sendable {
        public var keyVault: String?
        public init(keyVault: String?) { self.keyVault = keyVault }
    }
    public var name: String?
    public var activeDirectoryEndpoint: String?
    public var keyVaultEndpoint: String?
    public var keyVaultDNSSuffix: String?
    public var resourceManagerEndpoint: String?
    public var tokenAudience: String?
    public var resourceIdentifiers: ResourceIdentifiers?
    /// akvs extension, ignored by upstream: connect here for every host of this cloud.
    public var akvsConnectAddress: String?

    public init(name: String?, activeDirectoryEndpoint: String?, keyVaultEndpoint: String?, keyVaultDNSSuffix: String?,
                resourceManagerEndpoint: String?, tokenAudience: String?, resourceIdentifiers: ResourceIdentifiers?, akvsConnectAddress: String?) {
        self.name = name; self.activeDirectoryEndpoint = activeDirectoryEndpoint; self.keyVaultEndpoint = keyVaultEndpoint
        self.keyVaultDNSSuffix = keyVaultDNSSuffix; self.resourceManagerEndpoint = resourceManagerEndpoint
        self.tokenAudience = tokenAudience; self.resourceIdentifiers = resourceIdentifiers; self.akvsConnectAddress = akvsConnectAddress
    }
}

/// Why a cloud could not be resolved.
public enum CloudError: Error, Equatable, CustomStringConvertible {
    case unknownCloud(String)
    case missingEnvironmentFile
    case unreadableEnvironmentFile(path: String, reason: String)
    case invalidEnvironmentFile(path: String, field: String, reason: String)

    public var description: String {
        switch self {
        case .unknownCloud(let name):
            return "cloudName '\(name)' is not a known Azure cloud; use AzurePublicCloud, AzureUSGovernmentCloud, AzureChinaCloud or AzureStackCloud (with cloudEnvFileName)"
        case .missingEnvironmentFile:
            return "cloudName AzureStackCloud needs cloudEnvFileName: set it to the path of the environment JSON file"
        case .unreadableEnvironmentFile(let path, let reason):
            return "cloudEnvFileName '\(path)' cannot be read (\(reason)); check the path and that the file is mounted"
        case .invalidEnvironmentFile(let path, let field, let reason):
            return "cloud environment file '\(path)': field \(field) \(reason)"
        }
    }
}
