import AsyncHTTPClient
import AzureIdentity
import Foundation
import Logging

/// Shared plumbing for many vault clients: one HTTP client, one token cache, per-vault limits.
public struct KeyVaultSession: Sendable {
    public let transport: HTTPTransport
    public let tokens: TokenCache
    public let limiters: VaultLimiters
    public var retry: RetryPolicy
    public var logger: Logger

    public init(transport: HTTPTransport, tokens: TokenCache = TokenCache(), limiters: VaultLimiters = VaultLimiters(),
                retry: RetryPolicy = .default, logger: Logger = Logger(label: "akvs.keyvault")) {
        self.transport = transport; self.tokens = tokens; self.limiters = limiters; self.retry = retry; self.logger = logger
    }

    /// A session with its own HTTP client trusting the system roots plus `additionalCAFile`; `observer` is told every reply.
    public static func make(additionalCAFile: String? = nil, limiters: VaultLimiters = VaultLimiters(), observer: (any AzureReplyObserver)? = nil,
                            logger: Logger = Logger(label: "akvs.keyvault"),
                            environment: [String: String] = ProcessInfo.processInfo.environment) throws -> KeyVaultSession {
        KeyVaultSession(transport: HTTPTransport(client: try HTTPTransport.makeClient(additionalCAFile: additionalCAFile, environment: environment), observer: observer),
                        limiters: limiters, logger: logger)
    }

    /// A client for one vault in `cloud`, by vault name.
    public func client(vault name: String, cloud: AzureCloud, credential: any TokenCredential) async throws(KeyVaultError) -> KeyVaultClient {
        try KeyVaultValidation.vaultName(name)
        return try await client(vaultURL: cloud.vaultURL(name: name), cloud: cloud, credential: credential)
    }

    /// A client for one vault URL.
    public func client(vaultURL: URL, cloud: AzureCloud, credential: any TokenCredential) async throws(KeyVaultError) -> KeyVaultClient {
        let limiter = await limiters.limiter(for: vaultURL.host ?? vaultURL.absoluteString)
        return try KeyVaultClient(vaultURL: vaultURL, cloud: cloud, credential: credential, tokens: tokens, transport: transport,
                                  limiter: limiter, retry: retry, logger: logger)
    }

    /// Closes the HTTP client.
    public func shutdown() async throws { try await transport.client.shutdown() }
}
