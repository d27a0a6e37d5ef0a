import Foundation

/// Exponential backoff with full jitter, honouring Retry-After.
public struct RetryPolicy: Sendable {
    public var maxAttempts: Int
    public var baseDelay: Duration
    public var maxDelay: Duration
    /// Longest Retry-After honoured; a longer one fails the call instead of stalling it.
    public var maxRetryAfter: Duration

    public init(maxAttempts: Int = 4, baseDelay: Duration = .milliseconds(200), maxDelay: Duration = .seconds(10), maxRetryAfter: Duration = .seconds(60)) {
        self.maxAttempts = maxAttempts; self.baseDelay = baseDelay; self.maxDelay = maxDelay; self.maxRetryAfter = maxRetryAfter
    }

    public static let `default` = RetryPolicy()
    public static let none = RetryPolicy(maxAttempts: 1)

    /// Delay before attempt `attempt + 1` (attempt counts from 1), given an optional Retry-After in seconds.
    public func delay(afterAttempt attempt: Int, retryAfter: Double?) -> Duration {
        if let seconds = retryAfter, seconds >= 0 {
            // Compare before converting: a hostile Retry-After (1e19, inf) would trap the Double → Int64 conversion.
            guard seconds * 1000 < Double(maxRetryAfter.components.seconds) * 1000 else { return maxRetryAfter }
            return .milliseconds(Int64(seconds * 1000))
        }
        let cap = min(maxDelay, baseDelay * (1 << min(attempt - 1, 20)))
        let capMillis = Double(cap.components.seconds) * 1000 + Double(cap.components.attoseconds) / 1e15
        return .milliseconds(Int64(Double.random(in: 0...max(1, capMillis))))
    }

    /// Parses a Retry-After header (seconds, or an HTTP date).
    public static func parseRetryAfter(_ value: String?, now: Date = Date()) -> Double? {
        guard let value = value?.trimmingCharacters(in: .whitespaces), !value.isEmpty else { return nil }
        if let seconds = Double(value) { return max(0, seconds) }
        let formatter = DateFormatter()
        formatter.locale = Locale(identifier: "en_US_POSIX")
        formatter.timeZone = TimeZone(identifier: "GMT")
        formatter.dateFormat = "EEE, dd MMM yyyy HH:mm:ss zzz"
        return formatter.date(from: value).map { max(0, $0.timeIntervalSince(now)) }
    }
}
