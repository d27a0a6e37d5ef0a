import StructuredJSON

/// Counts API requests by verb, resource (with subresource) and status code, so tests and benchmarks can say
/// exactly which requests a controller sent and that none was answered with an error.
actor RequestTally {
    struct Key: Hashable, Sendable {
        var verb: String
        var resource: String
        var code: Int
    }
    private(set) var counts: [Key: Int] = [:]

    func record(verb: String, path: String, watch: Bool, code: Int) {
        guard let resource = Self.resource(path) else { return }
        counts[Key(verb: watch ? "WATCH" : verb, resource: resource, code: code), default: 0] += 1
    }

    /// Returns the counts so far as JSON (`[{verb, resource, code, count}]`), optionally resetting them.
    func snapshot(reset: Bool) -> JSONValue {
        let sorted = counts.sorted { ($0.key.resource, $0.key.verb, $0.key.code) < ($1.key.resource, $1.key.verb, $1.key.code) }
        if reset { counts = [:] }
        return .array(sorted.map { ["verb": .string($0.key.verb), "resource": .string($0.key.resource), "code": .number(Double($0.key.code)), "count": .number(Double($0.value))] })
    }

    /// `secrets`, `secretsyncs/status`, …: the plural and subresource of a resource URL (nil for discovery).
    static func resource(_ path: String) -> String? {
        let s = path.split(separator: "/")
        let rest: ArraySlice<Substring>
        if s.first == "api", s.count >= 3 { rest = s[2...] } else if s.first == "apis", s.count >= 4 { rest = s[3...] } else { return nil }
        let r = Array(rest)
        if r[0] == "namespaces", r.count >= 3 { return r.count > 4 ? "\(r[2])/\(r[4])" : String(r[2]) }
        return r.count > 2 ? "\(r[0])/\(r[2])" : String(r[0])
    }
}
