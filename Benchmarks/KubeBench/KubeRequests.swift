import Foundation
import Kubernetes
import StructuredJSON

/// The test server's count of API requests (`/_testserver/requests`), by verb, resource and status code.
struct KubeRequests {
    struct Entry { var verb: String; var resource: String; var code: Int; var count: Int }
    var entries: [Entry]

    /// Reads the counts since the last call and starts a new count.
    static func take(_ client: KubernetesClient) async throws -> KubeRequests {
        let json = try await client.document("/_testserver/requests?reset=true")
        return KubeRequests(entries: (json.arrayValue ?? []).compactMap { e in
            guard let verb = e["verb"]?.stringValue, let resource = e["resource"]?.stringValue,
                  let code = e["code"]?.numberValue, let count = e["count"]?.numberValue else { return nil }
            return Entry(verb: verb, resource: resource, code: Int(code), count: Int(count))
        })
    }

    /// Writes (POST, PUT, PATCH, DELETE) to `resource`, optionally only those answered with `code`.
    func writes(_ resource: String? = nil, verb: String? = nil) -> Int {
        entries.filter { ["POST", "PUT", "PATCH", "DELETE"].contains($0.verb) && (resource == nil || $0.resource == resource) && (verb == nil || $0.verb == verb) }
            .reduce(0) { $0 + $1.count }
    }
    /// Requests answered with a 4xx or 5xx.
    var failed: Int { entries.filter { $0.code >= 400 }.reduce(0) { $0 + $1.count } }
    func count(_ verb: String, _ resource: String) -> Int { entries.filter { $0.verb == verb && $0.resource == resource }.reduce(0) { $0 + $1.count } }

    /// `POST secrets 201 ×10000, …` for the report (reads and leases left out).
    var summary: String {
        entries.filter { !["GET", "WATCH"].contains($0.verb) && $0.resource != "leases" }
            .map { "\($0.verb) \($0.resource) \($0.code) ×\($0.count)" }.joined(separator: ", ")
    }
}

/// CPU seconds (user + system) used by this process so far.
func cpuSeconds() -> Double {
    var usage = rusage()
    getrusage(__rusage_who_t(RUSAGE_SELF.rawValue), &usage)
    return Double(usage.ru_utime.tv_sec + usage.ru_stime.tv_sec) + Double(usage.ru_utime.tv_usec + usage.ru_stime.tv_usec) / 1e6
}
