import Foundation

/// A bearer token and when it expires. Its value never appears in descriptions or logs.
public struct AccessToken: Sendable, CustomStringConvertible, CustomDebugStringConvertible {
    /// The bearer token; send it, never print it.
    public let token: String
    public let expiresOn: Date
    /// When to fetch a new token ahead of expiry.
    public let refreshOn: Date

    public init(token: String, expiresOn: Date, now: Date = Date()) {
        self.token = token
        self.expiresOn = expiresOn
        // Refresh at half the lifetime for long tokens, 5 minutes before expiry otherwise (as azure-identity).
        let lifetime = expiresOn.timeIntervalSince(now)
        let lead = lifetime >= 7200 ? lifetime / 2 : min(300, max(0, lifetime / 2))
        self.refreshOn = expiresOn.addingTimeInterval(-lead)
    }

    public var description: String { "AccessToken(expiresOn: \(expiresOn), value: <redacted>)" }
    public var debugDescription: String { description }
}
