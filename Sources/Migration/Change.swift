import StructuredJSON

/// One thing a stage would do (dry run) or did (`--apply`), or why it cannot.
public struct Change: Codable, Sendable {
    public enum Operation: String, Codable, Sendable {
        /// Create an object that does not exist.
        case create
        /// Replace an existing object (PUT of the whole rewritten object, field manager akvs-migrate).
        case update
        /// Give an existing secretObjects Secret to its new SecretSync (owner reference and field ownership; same data).
        case handover
        /// Restart a workload (the pod-template restartedAt annotation).
        case restart
        /// Delete (cleanup only).
        case delete
        /// Recreate a bare pod (delete, then create the rewritten one).
        case recreate
        /// Nothing to do: a second run.
        case unchanged
        /// Cannot be done: left untouched, with the reason.
        case blocked
        /// Something the user must do or know.
        case note
    }

    public var stage: String
    public var namespace: String
    /// `Kind/name`.
    public var subject: String
    public var operation: Operation
    public var detail: String
    /// The object to write (create/update/recreate); never a Secret's data.
    public var object: JSONValue?

    public init(_ stage: String, _ namespace: String, _ subject: String, _ operation: Operation, _ detail: String, object: JSONValue? = nil) {
        self.stage = stage; self.namespace = namespace; self.subject = subject; self.operation = operation; self.detail = detail; self.object = object
    }

    var isBlocker: Bool { operation == .blocked }
    var acts: Bool { [.create, .update, .handover, .restart, .delete, .recreate].contains(operation) }
}
