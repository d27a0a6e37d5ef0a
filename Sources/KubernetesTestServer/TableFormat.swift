import Foundation
import StructuredJSON

/// `meta.k8s.io/v1` Table answers, which kubectl asks for (`Accept: application/json;as=Table;v=v1;g=meta.k8s.io`):
/// Secrets with their built-in columns, custom resources with their CRD's printer columns. Other kinds answer
/// the plain form the same Accept header also allows, never a Table with made-up columns.
enum TableFormat {
    struct Column {
        var name: String
        var type: String
        var format: String
        var description: String
        var priority: Int
        var cell: (JSONValue, Date) -> JSONValue
    }

    /// Whether the request asks for a Table first (before any plain JSON type).
    static func wanted(accept: String) -> Bool {
        for range in accept.split(separator: ",") {
            let parts = range.split(separator: ";").map { $0.trimmingCharacters(in: .whitespaces) }
            guard let type = parts.first else { continue }
            if parts.contains("as=Table") { return ["application/json", "*/*"].contains(type) && parts.contains("g=meta.k8s.io") }
            if ["application/json", "*/*", "application/*"].contains(type) { return false }
        }
        return false
    }

    /// Whether some media range of `accept` admits plain JSON (a resource, a list or a Status).
    static func acceptsJSON(_ accept: String) -> Bool {
        accept.isEmpty || accept.split(separator: ",").contains { range in
            let parts = range.split(separator: ";").map { $0.trimmingCharacters(in: .whitespaces) }
            return ["application/json", "*/*", "application/*"].contains(parts.first ?? "") && !parts.contains(where: { $0.hasPrefix("as=") })
        }
    }

    /// The columns for a kind, or nil when the test server prints no Table for it.
    static func columns(_ d: ResourceDefinition) -> [Column]? {
        let name = Column(name: "Name", type: "string", format: "name", description: "Name of the object (metadata.name).", priority: 0) { object, _ in
            .string(object.text("metadata", "name") ?? "")
        }
        let age = Column(name: "Age", type: "string", format: "", description: "Time since the object was created (metadata.creationTimestamp).", priority: 0) {
            .string(humanAge($0.text("metadata", "creationTimestamp"), now: $1))
        }
        if let crd = d.crd {
            guard !crd.printerColumns.isEmpty else { return [name, age] }
            return [name] + crd.printerColumns.map { column in
                Column(name: column.name, type: column.type, format: column.format, description: column.description, priority: column.priority) { object, now in
                    guard let value = JSONPathLite.first(column.jsonPath, in: object), value != .null else { return .null }
                    if column.type == "date", let text = value.stringValue { return .string(humanAge(text, now: now)) }
                    return value
                }
            }
        }
        if d.kind.group.isEmpty, d.kind.kind == "Secret" {
            return [name,
                    Column(name: "Type", type: "string", format: "", description: "The Secret's type.", priority: 0) { object, _ in .string(object.text("type") ?? "") },
                    Column(name: "Data", type: "string", format: "", description: "How many keys the Secret's data holds.", priority: 0) { object, _ in
                        .number(Double(object["data"]?.objectValue?.count ?? 0))
                    },
                    age]
        }
        return nil
    }

    /// A Table of `objects`; rows carry `PartialObjectMetadata` unless `includeObject` says otherwise.
    static func table(_ columns: [Column], objects: [JSONValue], listMetadata: JSONValue, includeObject: String?, now: Date = Date()) -> JSONValue {
        let definitions: [JSONValue] = columns.map {
            ["name": .string($0.name), "type": .string($0.type), "format": .string($0.format), "description": .string($0.description), "priority": .number(Double($0.priority))]
        }
        let rows: [JSONValue] = objects.map { object in
            var row: JSONValue = ["cells": .array(columns.map { $0.cell(object, now) })]
            switch includeObject {
            case "None": break
            case "Object": row["object"] = object
            default:
                row["object"] = ["kind": "PartialObjectMetadata", "apiVersion": "meta.k8s.io/v1", "metadata": object["metadata"] ?? [:]]
            }
            return row
        }
        return ["kind": "Table", "apiVersion": "meta.k8s.io/v1", "metadata": listMetadata, "columnDefinitions": .array(definitions), "rows": .array(rows)]
    }

    /// kubectl's short ages: `45s`, `3m20s`, `5h`, `2d3h`, `400d`, `3y20d`.
    static func humanAge(_ timestamp: String?, now: Date) -> String {
        guard let timestamp, let date = APITimeParsing.date(timestamp) else { return "<unknown>" }
        let seconds = Int(now.timeIntervalSince(date))
        if seconds < -1 { return "<invalid>" }
        if seconds < 0 { return "0s" }
        if seconds < 120 { return "\(seconds)s" }
        let minutes = seconds / 60
        if minutes < 10 { return seconds % 60 == 0 ? "\(minutes)m" : "\(minutes)m\(seconds % 60)s" }
        if minutes < 180 { return "\(minutes)m" }
        let hours = minutes / 60
        if hours < 8 { return minutes % 60 == 0 ? "\(hours)h" : "\(hours)h\(minutes % 60)m" }
        if hours < 48 { return "\(hours)h" }
        if hours < 24 * 8 { return hours % 24 == 0 ? "\(hours / 24)d" : "\(hours / 24)d\(hours % 24)h" }
        if hours < 24 * 365 * 2 { return "\(hours / 24)d" }
        if hours < 24 * 365 * 8 { return "\(hours / 24 / 365)y\(hours / 24 % 365)d" }
        return "\(hours / 24 / 365)y"
    }
}

/// RFC 3339 times as the API writes them.
enum APITimeParsing {
    static func date(_ text: String) -> Date? {
        let formatter = ISO8601DateFormatter()
        if let date = formatter.date(from: text) { return date }
        formatter.formatOptions = [.withInternetDateTime, .withFractionalSeconds]
        return formatter.date(from: text)
    }
}

/// The JSONPath subset printer columns use: `.a.b`, `[0]`, `[*]` and `[?(@.key=="value")]`; the first match.
enum JSONPathLite {
    static func first(_ path: String, in object: JSONValue) -> JSONValue? {
        var current: [JSONValue] = [object]
        var rest = Substring(path.hasPrefix("{") && path.hasSuffix("}") ? String(path.dropFirst().dropLast()) : path)
        while !rest.isEmpty {
            if rest.hasPrefix(".") {
                rest = rest.dropFirst()
                let end = rest.firstIndex { $0 == "." || $0 == "[" } ?? rest.endIndex
                let key = String(rest[..<end])
                rest = rest[end...]
                current = current.compactMap { $0[key] }
            } else if rest.hasPrefix("[") {
                guard let close = rest.firstIndex(of: "]") else { return nil }
                let selector = rest[rest.index(after: rest.startIndex)..<close]
                rest = rest[rest.index(after: close)...]
                current = current.flatMap { value -> [JSONValue] in
                    let items = value.arrayValue ?? []
                    if selector == "*" { return items }
                    if let index = Int(selector) { return items.indices.contains(index) ? [items[index]] : [] }
                    guard let match = filter(String(selector)) else { return [] }
                    return items.filter { $0[path: match.path]?.stringValue == match.value }
                }
            } else {
                return nil
            }
        }
        return current.first
    }

    /// `?(@.type=="Create")` as a path and the value it must equal.
    static func filter(_ selector: String) -> (path: [String], value: String)? {
        guard selector.hasPrefix("?(@."), selector.hasSuffix(")"), let equals = selector.range(of: "==") else { return nil }
        let path = selector[selector.index(selector.startIndex, offsetBy: 4)..<equals.lowerBound].split(separator: ".").map(String.init)
        var value = selector[equals.upperBound..<selector.index(before: selector.endIndex)].trimmingCharacters(in: .whitespaces)
        if value.count >= 2, let quote = value.first, quote == "\"" || quote == "'", value.last == quote { value = String(value.dropFirst().dropLast()) }
        return (path, value)
    }
}
