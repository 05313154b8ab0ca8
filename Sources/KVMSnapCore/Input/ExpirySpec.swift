import Foundation

/// Parses `--expires`: a duration from now (`14d`, `36h`, `2w`, …, at most 100 years) or a local
/// date `YYYY-MM-DD` (expiring at that day's start) or a full ISO 8601 timestamp; the result is
/// after `now` and no later than 9999-12-31 (`Bounds`: every stored date stays readable).
public enum ExpirySpec {
    public static func parse(_ text: String, now: Date, timeZone: TimeZone = .current) throws(SpecError) -> Date {
        // Starts with digits and has no '-': meant as a duration, so its own error is the one to show.
        if let first = text.first, first.isASCII, first.isNumber, !text.contains("-") {
            let duration: RetentionDuration
            do { duration = try RetentionDuration(parsing: text) } catch {
                throw SpecError("bad --expires '\(Bounds.clip(text))': \(error.description)")
            }
            return try bounded(now.addingTimeInterval(TimeInterval(duration.seconds)), text: text, now: now)
        }
        let parts = text.split(separator: "-")
        if parts.count == 3, let y = Int(parts[0]), let m = Int(parts[1]), let d = Int(parts[2]), parts[0].count == 4 {
            var calendar = Calendar(identifier: .gregorian)
            calendar.timeZone = timeZone
            let components = DateComponents(year: y, month: m, day: d)
            if let date = calendar.date(from: components),
                calendar.dateComponents([.year, .month, .day], from: date) == DateComponents(year: y, month: m, day: d)
            {
                return try bounded(date, text: text, now: now)
            }
        }
        let iso = ISO8601DateFormatter()
        if let date = iso.date(from: text) { return try bounded(date, text: text, now: now) }
        throw SpecError("bad --expires '\(Bounds.clip(text))': expected a duration like 14d, 36h, 2w or a date YYYY-MM-DD")
    }

    static func bounded(_ date: Date, text: String, now: Date) throws(SpecError) -> Date {
        guard date > now else { throw SpecError("--expires \(Bounds.clip(text)) is in the past") }
        guard Bounds.isStorableDate(date) else {
            throw SpecError("--expires \(Bounds.clip(text)) is too far in the future (at most 9999-12-31)")
        }
        return date
    }
}
