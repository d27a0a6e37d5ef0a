import StructuredJSON

/// RFC 6902 JSON patch: add, remove, replace, move, copy, test.
enum JSONPatch {
    /// kube-apiserver's limit on operations in one JSON patch.
    static let maximumOperations = 10_000
    /// Bytes all `copy` operations of one patch may add: each copy can double the object, so a short patch
    /// could otherwise grow it without bound (30 copies in a 1.4 KB patch hung the Fuzz/patch harness).
    static let maximumCopiedBytes = 3 << 20

    static func apply(_ operations: JSONValue, to document: JSONValue) throws(APIError) -> JSONValue {
        guard case .array(let ops) = operations else { throw APIError.badRequest("json patch must be an array of operations") }
        guard ops.count <= maximumOperations else {
            throw tooLarge("The allowed maximum operations in a JSON patch is \(maximumOperations), got \(ops.count)")
        }
        var doc = document
        var copied = 0
        for op in ops {
            guard let name = op["op"]?.stringValue, let path = op["path"]?.stringValue else {
                // The operation is not echoed: its value may be secret data.
                throw APIError.badRequest("json patch operation needs 'op' and 'path' (operation keys: \((op.objectValue ?? [:]).keys.sorted().joined(separator: ", ")))")
            }
            let tokens = try pointer(path)
            switch name {
            case "add": try set(&doc, tokens, op["value"] ?? .null, insert: true)
            case "replace":
                guard get(doc, tokens) != nil else { throw unprocessable("replace operation does not apply: doc is missing key: \(path)") }
                try set(&doc, tokens, op["value"] ?? .null, insert: false)
            case "remove":
                guard get(doc, tokens) != nil else { throw unprocessable("remove operation does not apply: doc is missing path: \(path)") }
                remove(&doc, tokens)
            case "test":
                guard get(doc, tokens) == (op["value"] ?? .null) else { throw unprocessable("the server rejected our request due to an error in our request: testing value \(path) failed") }
            case "move", "copy":
                guard let from = op["from"]?.stringValue, let value = get(doc, try pointer(from)) else { throw unprocessable("\(name) operation does not apply: missing 'from'") }
                if name == "move" { remove(&doc, try pointer(from)) } else {
                    copied += size(value, upTo: maximumCopiedBytes - copied + 1)
                    guard copied <= maximumCopiedBytes else {
                        throw tooLarge("json patch copy operations add more than \(maximumCopiedBytes) bytes; copy less, or send the new object with a merge patch or update")
                    }
                }
                try set(&doc, tokens, value, insert: true)
            default: throw APIError.badRequest("unknown json patch operation '\(name)'")
            }
        }
        return doc
    }

    /// kube-apiserver answers every failure to apply a JSON patch (a failed `test`, a missing path) with the same
    /// generic 422 and empty details, as recorded; `detail` says at the call site what failed, and goes no further.
    static func unprocessable(_ detail: String) -> APIError {
        APIError(code: 422, reason: "Invalid", message: "the server rejected our request due to an error in our request", details: [:])
    }
    static func tooLarge(_ message: String) -> APIError { APIError(code: 413, reason: "RequestEntityTooLarge", message: message) }

    /// About the JSON size of `value`, counted only up to `limit` (a copy over budget costs no more than the budget).
    static func size(_ value: JSONValue, upTo limit: Int) -> Int {
        switch value {
        case .string(let s): return s.utf8.count + 2
        case .number: return 8
        case .bool, .null: return 5
        case .array(let items):
            var total = 2
            for item in items {
                if total > limit { break }
                total += size(item, upTo: limit - total) + 1
            }
            return total
        case .object(let members):
            var total = 2
            for (key, item) in members {
                if total > limit { break }
                total += key.utf8.count + 4 + size(item, upTo: limit - total)
            }
            return total
        }
    }

    static func pointer(_ path: String) throws(APIError) -> [String] {
        guard path.hasPrefix("/") else { throw APIError.badRequest("json patch path '\(path)' must start with '/'") }
        return path.dropFirst().split(separator: "/", omittingEmptySubsequences: false).map {
            $0.replacingOccurrences(of: "~1", with: "/").replacingOccurrences(of: "~0", with: "~")
        }
    }

    static func get(_ doc: JSONValue, _ tokens: [String]) -> JSONValue? {
        var current = doc
        for t in tokens {
            switch current {
            case .object(let m): guard let v = m[t] else { return nil }; current = v
            case .array(let a): guard let i = Int(t), a.indices.contains(i) else { return nil }; current = a[i]
            default: return nil
            }
        }
        return current
    }

    static func set(_ doc: inout JSONValue, _ tokens: [String], _ value: JSONValue, insert: Bool) throws(APIError) {
        guard let first = tokens.first else { doc = value; return }
        let rest = Array(tokens.dropFirst())
        switch doc {
        case .object(var m):
            if rest.isEmpty { m[first] = value } else {
                guard var child = m[first] else { throw unprocessable("add operation does not apply: doc is missing path: /\(tokens.joined(separator: "/"))") }
                try set(&child, rest, value, insert: insert); m[first] = child
            }
            doc = .object(m)
        case .array(var a):
            if rest.isEmpty {
                if first == "-" { a.append(value) }
                else if let i = Int(first), i >= 0, i <= a.count { if insert { a.insert(value, at: i) } else if i < a.count { a[i] = value } }
                else { throw unprocessable("array index '\(first)' out of bounds") }
            } else {
                guard let i = Int(first), a.indices.contains(i) else { throw unprocessable("array index '\(first)' out of bounds") }
                try set(&a[i], rest, value, insert: insert)
            }
            doc = .array(a)
        default: throw unprocessable("cannot add into a scalar at '\(first)'")
        }
    }

    static func remove(_ doc: inout JSONValue, _ tokens: [String]) {
        guard let first = tokens.first else { return }
        let rest = Array(tokens.dropFirst())
        switch doc {
        case .object(var m):
            if rest.isEmpty { m.removeValue(forKey: first) } else if var child = m[first] { remove(&child, rest); m[first] = child }
            doc = .object(m)
        case .array(var a):
            guard let i = Int(first), a.indices.contains(i) else { return }
            if rest.isEmpty { a.remove(at: i) } else { remove(&a[i], rest) }
            doc = .array(a)
        default: return
        }
    }
}
