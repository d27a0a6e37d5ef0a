import Foundation

/// Kubernetes timestamps: `metav1.Time` (RFC 3339 in UTC, whole seconds) and `metav1.MicroTime`.
public enum APITime {
    /// `2026-01-02T03:04:05Z`.
    public static func string(_ date: Date) -> String { date.formatted(.iso8601) }

    /// `2026-01-02T03:04:05.123456Z` (Events, Leases).
    public static func micro(_ date: Date) -> String {
        let whole = date.timeIntervalSince1970.rounded(.down)
        let micros = Int((date.timeIntervalSince1970 - whole) * 1_000_000)
        return "\(string(Date(timeIntervalSince1970: whole)).dropLast()).\(String(format: "%06d", micros))Z"
    }

    /// Parses either form; nil when the text is not a timestamp.
    public static func parse(_ text: String) -> Date? { try? Date(text, strategy: .iso8601) }
}
