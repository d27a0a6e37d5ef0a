/// Why a SecretSync could not be synced; the reason goes into status, the message names the field and the fix.
public struct SyncFailure: Error, CustomStringConvertible, Sendable, Equatable {
    public var reason: SyncReason
    public var message: String
    public init(_ reason: SyncReason, _ message: String) { self.reason = reason; self.message = message }
    public var description: String { "\(reason.rawValue): \(message)" }
}
