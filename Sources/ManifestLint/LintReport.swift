import Foundation

/// The outcome of one `akvs validate` run.
public struct LintReport: Sendable, Equatable {
    /// Files read.
    public var files: Int
    /// YAML documents read, and the objects among them that akvs has rules for.
    public var documents = 0
    public var checked = 0
    public var diagnostics: [Diagnostic] = []

    /// An empty report over `files` files.
    public init(files: Int) { self.files = files }

    public var errorCount: Int { diagnostics.count { $0.severity == .error } }
    public var warningCount: Int { diagnostics.count { $0.severity == .warning } }
    /// Exit status 0 (warnings are allowed).
    public var clean: Bool { errorCount == 0 }

    /// One line per finding, then a summary line.
    public func text() -> String {
        let summary = "\(files) file\(files == 1 ? "" : "s"), \(documents) document\(documents == 1 ? "" : "s"), \(checked) checked: "
            + "\(errorCount) error\(errorCount == 1 ? "" : "s"), \(warningCount) warning\(warningCount == 1 ? "" : "s")"
        return (diagnostics.map(\.text) + [summary]).joined(separator: "\n")
    }

    /// `{"files": N, "documents": N, "checked": N, "errorCount": N, "warningCount": N, "errors": [{file, line, column, field, message, severity}]}`.
    public func json() -> String {
        struct Output: Encodable {
            var files: Int, documents: Int, checked: Int, errorCount: Int, warningCount: Int
            var errors: [Diagnostic]
        }
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
        let output = Output(files: files, documents: documents, checked: checked, errorCount: errorCount, warningCount: warningCount, errors: diagnostics)
        return (try? encoder.encode(output)).map { String(decoding: $0, as: UTF8.self) } ?? "{}"
    }
}
