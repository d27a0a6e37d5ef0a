import Foundation

/// Durations as flags and annotations write them: `90s`, `2m`, `1h30m`, `24h`, `500ms`, or a bare number of seconds.
public enum DurationText {
    /// The duration, or nil when `text` is not one.
    public static func parse(_ text: String) -> Duration? {
        let text = text.trimmingCharacters(in: .whitespaces)
        if let seconds = Int(text) { return .seconds(seconds) }
        guard !text.isEmpty else { return nil }
        var total = 0.0, number = ""
        var rest = Substring(text)
        while let ch = rest.first {
            if ch.isNumber || ch == "." { number.append(ch); rest = rest.dropFirst(); continue }
            guard let value = Double(number) else { return nil }
            if rest.hasPrefix("ms") { total += value / 1000; rest = rest.dropFirst(2) }
            else if ch == "h" { total += value * 3600; rest = rest.dropFirst() }
            else if ch == "m" { total += value * 60; rest = rest.dropFirst() }
            else if ch == "s" { total += value; rest = rest.dropFirst() }
            else { return nil }
            number = ""
        }
        guard number.isEmpty, total.isFinite, total < 1e9 else { return nil }
        return .milliseconds(Int64(total * 1000))
    }
}
