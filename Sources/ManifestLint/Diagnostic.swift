/// One finding of `akvs validate`: where, which field, what is wrong and how to fix it.
public struct Diagnostic: Sendable, Equatable, Codable {
    public enum Severity: String, Sendable, Codable { case error, warning }

    /// The file as it was named on the command line (or by the caller).
    public var file: String
    public var line: Int
    public var column: Int
    /// The field path inside the object, e.g. `spec.parameters.objects.array[0].objectType`.
    public var field: String
    public var message: String
    public var severity: Severity

    /// A finding at a 1-based line and column.
    public init(file: String, line: Int, column: Int, field: String, message: String, severity: Severity = .error) {
        self.file = file; self.line = line; self.column = column; self.field = field
        // One finding is one line of output.
        self.message = message.split(whereSeparator: \.isNewline).joined(separator: " ")
        self.severity = severity
    }

    /// `FILE:LINE:COL: field: message` (warnings say `warning:` before the message).
    public var text: String {
        "\(file):\(line):\(column): \(field): \(severity == .warning ? "warning: " : "")\(message)"
    }
}
