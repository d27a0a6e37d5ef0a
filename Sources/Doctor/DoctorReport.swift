import Foundation

/// One line of a doctor checklist.
public struct Check: Codable, Sendable, Equatable {
    /// ✓, ! or ✗.
    public enum Status: String, Codable, Sendable {
        case ok, warning, failure

        public var symbol: String {
            switch self {
            case .ok: return "✓"
            case .warning: return "!"
            case .failure: return "✗"
            }
        }
    }

    /// A stable identifier for scripts, e.g. `volume.secretProviderClass`.
    public var id: String
    public var status: Status
    /// What was checked.
    public var subject: String
    /// What was found.
    public var found: String
    /// The command or YAML that fixes it (always set for ✗).
    public var fix: String?

    public init(_ id: String, _ status: Status, _ subject: String, _ found: String, fix: String? = nil) {
        self.id = id; self.status = status; self.subject = subject; self.found = found; self.fix = fix
    }

    public static func ok(_ id: String, _ subject: String, _ found: String) -> Check { Check(id, .ok, subject, found) }
    public static func warning(_ id: String, _ subject: String, _ found: String, fix: String? = nil) -> Check { Check(id, .warning, subject, found, fix: fix) }
    public static func failure(_ id: String, _ subject: String, _ found: String, fix: String) -> Check { Check(id, .failure, subject, found, fix: fix) }
}

/// A checklist, top to bottom in the order the data flows.
public struct DoctorReport: Codable, Sendable {
    /// `pod apps/web`, `secretsync apps/db`, `cluster`.
    public var target: String
    public var checks: [Check] = []

    public init(target: String) { self.target = target }

    public mutating func add(_ check: Check) { checks.append(check) }
    public mutating func add(_ more: [Check]) { checks += more }

    /// True when nothing is ✗ (the exit code is 0 only then).
    public var healthy: Bool { !checks.contains { $0.status == .failure } }

    public func count(_ status: Check.Status) -> Int { checks.filter { $0.status == status }.count }

    /// The human checklist.
    public func text() -> String {
        var lines = ["akvs doctor \(target)"]
        for check in checks {
            lines.append("\(check.status.symbol) \(check.subject): \(check.found)")
            if let fix = check.fix {
                let body = fix.split(separator: "\n", omittingEmptySubsequences: false)
                lines.append("    fix: \(body.first ?? "")")
                lines += body.dropFirst().map { "         \($0)" }
            }
        }
        lines.append("\(count(.ok)) ✓, \(count(.warning)) !, \(count(.failure)) ✗" + (healthy ? "" : ": fix the ✗ lines top to bottom; the first one usually explains the rest"))
        return lines.joined(separator: "\n")
    }

    /// `--output json`: the checks plus a summary.
    public func json() -> String {
        struct Document: Encodable {
            var target: String
            var healthy: Bool
            var summary: [String: Int]
            var checks: [Check]
        }
        let document = Document(target: target, healthy: healthy,
                                summary: ["ok": count(.ok), "warning": count(.warning), "failure": count(.failure)], checks: checks)
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
        return String(decoding: (try? encoder.encode(document)) ?? Data("{}".utf8), as: UTF8.self)
    }
}
