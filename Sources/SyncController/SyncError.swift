/// Why a SecretSync could not be synced; the reason goes into status, the message names the field and the fix.
public struct SyncFailure: Error, CustomStringConvertible, Sendable, Equatable {
    public var reason: SyncReason
    public var message: String
    /// The field path the message is about (e.g. `spec.secretObject.data[0].targetKey`), when there is one.
    public var field: String?
    public init(_ reason: SyncReason, _ message: String, field: String? = nil) { self.reason = reason; self.message = message; self.field = field }
    public var description: String { "\(reason.rawValue): \(message)" }
}
