import Foundation

/// Decides when an object close to expiry deserves a Warning: once per owner (a SecretSync, a pod's status), object
/// version and UTC day, however often it is reconciled or republished.
public actor ExpiryWarnings {
    /// Warn this long before an object expires; zero never warns.
    public let within: Duration
    private var warned: Set<String> = []
    private var day = -1

    public init(within: Duration) { self.within = within }

    /// The warning to give now for an object version, or nil (not close to expiry, or already warned today).
    /// Never a value: the object's id, version, vault and expiry time only.
    public func warning(owner: String, object id: String, version: String, vault: String, validity: ObjectValidity, now: Date = Date()) -> String? {
        guard within > .zero, let expires = validity.expires else { return nil }
        let left = expires.timeIntervalSince(now)
        guard left <= Double(within.components.seconds) else { return nil }
        let today = Int((now.timeIntervalSince1970 / 86400).rounded(.down))
        if today != day { warned = []; day = today }
        guard warned.insert("\(owner)|\(id)|\(version)").inserted else { return nil }
        let when = ISO8601DateFormatter().string(from: expires)
        let versionText = version.isEmpty ? "" : " version \(version)"
        if left <= 0 {
            return "\(id)\(versionText) in Key Vault \(vault) expired at \(when): renew or rotate it there (and set a new expiry); what was synced before stays"
        }
        let days = Int(left / 86400)
        let span = days >= 1 ? "\(days) day\(days == 1 ? "" : "s")" : "\(max(1, Int(left / 3600))) hour\(left < 7200 ? "" : "s")"
        return "\(id)\(versionText) in Key Vault \(vault) expires at \(when) (in \(span)): renew or rotate it there before then"
    }
}
