import Foundation

/// Something that can obtain an access token from Entra ID or a managed-identity endpoint.
public protocol TokenCredential: Sendable {
    /// The exact credential material (authority, tenant, client and a hash of the secret or of the
    /// assertion itself): keys the token cache, so only material Entra accepted gets a cached token.
    var fingerprint: String { get }
    /// Who the caller is (for workload identity: tenant, client, issuer, subject, audience, not the
    /// token itself): keys shared results, served only after this caller's own token was accepted.
    var identityKey: String { get }
    /// Requests a new token for `scope` (no caching; `TokenCache` adds that).
    func requestToken(scope: String) async throws(IdentityError) -> AccessToken
}

extension TokenCredential {
    public var identityKey: String { fingerprint }
}

/// Caches tokens per credential fingerprint and scope; concurrent callers share one request.
public actor TokenCache {
    private var tokens: [String: AccessToken] = [:]
    private var inFlight: [String: Task<AccessToken, any Error>] = [:]
    private let clock: @Sendable () -> Date
    /// Bound on cached entries; the oldest-expiring go first.
    private let capacity: Int

    public init(capacity: Int = 1024, clock: @escaping @Sendable () -> Date = { Date() }) {
        self.capacity = capacity
        self.clock = clock
    }

    /// Returns a cached token that is not due for refresh, or fetches one (single flight per key).
    public func token(for credential: any TokenCredential, scope: String) async throws(IdentityError) -> AccessToken {
        let key = credential.fingerprint + "|" + scope
        if let cached = tokens[key], cached.refreshOn > clock() { return cached }
        let task: Task<AccessToken, any Error>
        if let running = inFlight[key] {
            task = running
        } else {
            task = Task { try await credential.requestToken(scope: scope) }
            inFlight[key] = task
        }
        do {
            let token = try await task.value
            if inFlight[key] == task {
                inFlight[key] = nil
                store(token, key: key)
            }
            return token
        } catch {
            if inFlight[key] == task { inFlight[key] = nil }
            if let identityError = error as? IdentityError { throw identityError }
            throw .assertionUnavailable(reason: String(describing: error))
        }
    }

    private func store(_ token: AccessToken, key: String) {
        if tokens.count >= capacity, tokens[key] == nil,
           let oldest = tokens.min(by: { $0.value.expiresOn < $1.value.expiresOn })?.key {
            tokens[oldest] = nil
        }
        tokens[key] = token
    }

    /// Drops every cached token (e.g. after Key Vault rejected one).
    public func invalidate(_ credential: any TokenCredential, scope: String) {
        tokens[credential.fingerprint + "|" + scope] = nil
    }

    /// Number of cached tokens.
    public var count: Int { tokens.count }
}
