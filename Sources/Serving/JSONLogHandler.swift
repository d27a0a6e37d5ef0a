import Foundation
import Logging

/// Log lines as one JSON object each (`--log-format-json`), for log pipelines that parse structured logs.
public struct JSONLogHandler: LogHandler {
    public var logLevel: Logger.Level = .info
    public var metadata: Logger.Metadata = [:]
    public var metadataProvider: Logger.MetadataProvider?
    let label: String
    let write: @Sendable (String) -> Void

    /// A handler that writes to standard error.
    public init(label: String) {
        self.init(label: label) { line in FileHandle.standardError.write(Data(line.utf8)) }
    }

    /// A handler that hands each finished line (with its newline) to `write`.
    public init(label: String, write: @escaping @Sendable (String) -> Void) {
        self.label = label; self.write = write
    }

    public subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { metadata[key] }
        set { metadata[key] = newValue }
    }

    public func log(event: LogEvent) {
        var fields = metadata
        if let provided = metadataProvider?.get() { fields.merge(provided) { _, new in new } }
        if let extra = event.metadata { fields.merge(extra) { _, new in new } }
        var line = "{\"ts\":\(Self.quoted(Self.timestamp()))"
        line += ",\"level\":\(Self.quoted(event.level.rawValue)),\"logger\":\(Self.quoted(label))"
        line += ",\"msg\":\(Self.quoted(event.message.description))"
        line += ",\"caller\":\(Self.quoted("\((event.file as NSString).lastPathComponent):\(event.line)"))"
        for key in fields.keys.sorted() where !["ts", "level", "logger", "msg", "caller"].contains(key) {
            line += ",\(Self.quoted(key)):\(Self.json(fields[key]!))"
        }
        write(line + "}\n")
    }

    static func json(_ value: Logger.Metadata.Value) -> String {
        switch value {
        case .string(let s): return quoted(s)
        case .stringConvertible(let s): return quoted(s.description)
        case .array(let items): return "[" + items.map(json).joined(separator: ",") + "]"
        case .dictionary(let d): return "{" + d.keys.sorted().map { "\(quoted($0)):\(json(d[$0]!))" }.joined(separator: ",") + "}"
        }
    }

    static func quoted(_ text: String) -> String {
        var out = "\""
        for scalar in text.unicodeScalars {
            switch scalar {
            case "\"": out += "\\\""
            case "\\": out += "\\\\"
            case "\n": out += "\\n"
            case "\r": out += "\\r"
            case "\t": out += "\\t"
            case _ where scalar.value < 0x20: out += String(format: "\\u%04x", scalar.value)
            default: out.unicodeScalars.append(scalar)
            }
        }
        return out + "\""
    }

    static func timestamp() -> String {
        Date().formatted(Date.ISO8601FormatStyle(includingFractionalSeconds: true))
    }
}

/// The logging flags every role shares: `--log-level` and `--log-format-json`.
public enum LogSetup {
    /// A logger at `level` (a swift-log level name), JSON lines when `json` is set; names `flag` if the level is unknown.
    public static func logger(label: String, level: String, json: Bool, flag: String = "--log-level") throws(LogLevelError) -> Logger {
        guard let parsed = Logger.Level(rawValue: level.lowercased()) else { throw LogLevelError(flag: flag, value: level) }
        var logger = json ? Logger(label: label, factory: { JSONLogHandler(label: $0) }) : Logger(label: label)
        logger.logLevel = parsed
        return logger
    }
}

/// An unknown `--log-level`.
public struct LogLevelError: Error, CustomStringConvertible {
    public var flag: String
    public var value: String
    public var description: String {
        "\(flag) '\(value)' is not a log level; use one of \(Logger.Level.allCases.map(\.rawValue).joined(separator: ", "))"
    }
}
