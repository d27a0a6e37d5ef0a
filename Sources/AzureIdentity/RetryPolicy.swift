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
        return parseHTTPDate(value).map { max(0, $0.timeIntervalSince(now)) }
    }

    static let months = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"]

    /// An IMF-fixdate (`Sun, 06 Nov 1994 08:49:37 GMT`, the HTTP date format), parsed by hand: Foundation's
    /// DateFormatter leaked memory on some hostile header values (found by Fuzz/vault-responses).
    static func parseHTTPDate(_ value: String) -> Date? {
        func number(_ text: Substring, digits: Int) -> Int? {
            guard text.count == digits, text.allSatisfy({ $0.isASCII && $0.isNumber }) else { return nil }
            return Int(text)
        }
        let parts = value.split(separator: " ", omittingEmptySubsequences: false)
        guard parts.count == 6, parts[0].count == 4, parts[0].hasSuffix(","), parts[5] == "GMT",
              let day = number(parts[1], digits: 2), let month = months.firstIndex(of: String(parts[2])).map({ $0 + 1 }),
              let year = number(parts[3], digits: 4) else { return nil }
        let clock = parts[4].split(separator: ":", omittingEmptySubsequences: false)
        guard clock.count == 3, let hour = number(clock[0], digits: 2), let minute = number(clock[1], digits: 2),
              let second = number(clock[2], digits: 2), (1...31).contains(day), hour < 24, minute < 60, second < 61 else { return nil }
        // Days since 1970-01-01 in the proleptic Gregorian calendar (Howard Hinnant's days_from_civil).
        let y = month <= 2 ? year - 1 : year
        let era = y / 400, yearOfEra = y % 400
        let dayOfYear = (153 * ((month + 9) % 12) + 2) / 5 + day - 1
        let days = era * 146_097 + yearOfEra * 365 + yearOfEra / 4 - yearOfEra / 100 + dayOfYear - 719_468
        return Date(timeIntervalSince1970: Double(days * 86_400 + hour * 3_600 + minute * 60 + second))
    }
}
