import Yams

/// The diagnostics of one file, collected while its documents are checked.
struct Findings: Sendable {
    let file: String
    private(set) var items: [Diagnostic] = []

    init(file: String) { self.file = file }

    /// Reports at a node of `frame` (nil: the frame's start, or its pinned position).
    mutating func add(_ node: Node?, _ frame: TextFrame, _ field: String, _ message: String, _ severity: Diagnostic.Severity = .error) {
        add(at: frame.position(node?.mark), field, message, severity)
    }

    mutating func add(at position: Position, _ field: String, _ message: String, _ severity: Diagnostic.Severity = .error) {
        let diagnostic = Diagnostic(file: file, line: position.line, column: position.column, field: field, message: message, severity: severity)
        // Two rules may catch the same mistake at the same place: report it once.
        guard !items.contains(where: { $0.line == diagnostic.line && $0.column == diagnostic.column && $0.field == field }) else { return }
        items.append(diagnostic)
    }

    mutating func append(_ other: Findings) { for item in other.items { add(at: Position(line: item.line, column: item.column), item.field, item.message, item.severity) } }
}

/// The mark and problem of a YAML syntax error (never the text around it: it may hold a secret).
func yamlProblem(_ error: any Error) -> (mark: Mark?, problem: String) {
    switch error as? YamlError {
    case .scanner(_, let problem, let mark, _), .parser(_, let problem, let mark, _), .composer(_, let problem, let mark, _):
        return (mark, problem)
    case .reader(let problem, _, _, _):
        return (nil, problem)
    default:
        return (nil, "cannot be read as YAML")
    }
}

/// A message that repeats its field path (or the path's parent) at the start, or after "AKVSync ns/name" for the
/// expansion's messages, without it: the path is printed before the message.
func withoutField(_ message: String, _ field: String) -> String {
    var candidate = Substring(field)
    while !candidate.isEmpty {
        if let range = message.range(of: candidate), range.lowerBound == message.startIndex || message.hasPrefix("AKVSync ") {
            let rest = message[range.upperBound...].drop { $0 == ":" || $0 == " " || $0 == "." }
            return rest.isEmpty ? message : String(rest)
        }
        guard let dot = candidate.lastIndex(of: ".") else { break }
        candidate = candidate[..<dot]
    }
    return message
}
