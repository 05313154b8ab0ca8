import Foundation

/// Minimal, fast ISO 8601 timestamps (no `DateFormatter`, no `Calendar`).
public enum Timestamp {
    /// Formats in UTC, `YYYY-MM-DDTHH:MM:SSZ`, adding `.ffffff` only when there are
    /// sub-second microseconds.
    /// Outside years 0000...9999 (`Bounds`) it gives the seconds since 1970 instead of trapping.
    public static func format(_ date: Date) -> String {
        guard Bounds.isSupportedInstant(date) else { return "\(date.timeIntervalSince1970) s after 1970-01-01T00:00:00Z" }
        let micros = RetentionPlanner.microseconds(date)
        let secs = CivilTime.floorDiv(micros, 1_000_000)
        let frac = micros - secs * 1_000_000
        let days = CivilTime.floorDiv(secs, 86_400)
        let sod = secs - days * 86_400
        let c = CivilTime.civilFromDays(days)
        func pad(_ v: Int64, _ width: Int) -> String {
            let s = String(v)
            return s.count >= width ? s : String(repeating: "0", count: width - s.count) + s
        }
        var out = "\(pad(c.year, 4))-\(pad(c.month, 2))-\(pad(c.day, 2))T\(pad(sod / 3600, 2)):\(pad(sod / 60 % 60, 2)):\(pad(sod % 60, 2))"
        if frac != 0 { out += "." + pad(frac, 6) }
        return out + "Z"
    }

    /// Parses `YYYY-MM-DDTHH:MM:SS[.fraction](Z|±HH:MM|±HHMM|±HH)`; `t` or a space may separate
    /// date and time. The zone designator is required.
    public static func parse(_ text: String) -> Result<Date, TimestampError> {
        let b = Array(text.utf8)
        var i = 0
        func digits(_ n: Int) -> Int64? {
            guard i + n <= b.count else { return nil }
            var v: Int64 = 0
            for k in 0..<n {
                let ch = b[i + k]
                guard ch >= 48 && ch <= 57 else { return nil }
                v = v * 10 + Int64(ch - 48)
            }
            i += n
            return v
        }
        func expect(_ ch: UInt8) -> Bool {
            guard i < b.count, b[i] == ch else { return false }
            i += 1
            return true
        }
        let bad = TimestampError.notISO8601(text)
        guard let year = digits(4), expect(45), let month = digits(2), expect(45), let day = digits(2) else { return .failure(bad) }
        guard i < b.count, b[i] == 84 || b[i] == 116 || b[i] == 32 else { return .failure(bad) }
        i += 1
        guard let hour = digits(2), expect(58), let minute = digits(2), expect(58), let second = digits(2) else { return .failure(bad) }
        var micros: Int64 = 0
        if i < b.count, b[i] == 46 || b[i] == 44 {
            i += 1
            var scale: Int64 = 100_000
            var any = false
            while i < b.count, b[i] >= 48, b[i] <= 57 {
                if scale >= 1 { micros += Int64(b[i] - 48) * scale }  // beyond microseconds: truncated
                scale /= 10
                any = true
                i += 1
            }
            if !any { return .failure(bad) }
        }
        guard month >= 1, month <= 12, day >= 1, hour <= 23, minute <= 59, second <= 60 else {
            return .failure(.outOfRange(text))
        }
        let dim: [Int64] = [31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31]
        let leap = (year % 4 == 0 && year % 100 != 0) || year % 400 == 0
        guard day <= dim[Int(month - 1)] + (month == 2 && leap ? 1 : 0), second <= 59 else {
            return .failure(.outOfRange(text))
        }
        var offset: Int64 = 0
        guard i < b.count else { return .failure(.missingZone(text)) }
        if b[i] == 90 || b[i] == 122 {  // Z z
            i += 1
        } else if b[i] == 43 || b[i] == 45 {  // + -
            let sign: Int64 = b[i] == 45 ? -1 : 1
            i += 1
            guard let oh = digits(2) else { return .failure(bad) }
            var om: Int64 = 0
            if i < b.count {
                _ = expect(58)
                guard let m = digits(2) else { return .failure(bad) }
                om = m
            }
            guard oh <= 23, om <= 59 else { return .failure(.outOfRange(text)) }
            offset = sign * (oh * 3600 + om * 60)
        } else {
            return .failure(bad)
        }
        guard i == b.count else { return .failure(bad) }
        let days = CivilTime.daysFromCivil(year: year, month: month, day: day)
        let secs = days * 86_400 + hour * 3600 + minute * 60 + second - offset
        let date = Date(timeIntervalSince1970: Double(secs) + Double(micros) / 1_000_000)
        // An offset can move a date at the edge of the four-digit years out of them.
        guard Bounds.isSupportedInstant(date) else { return .failure(.outOfRange(text)) }
        return .success(date)
    }
}

public enum TimestampError: Error, Equatable, Sendable, CustomStringConvertible {
    case notISO8601(String)
    case missingZone(String)
    case outOfRange(String)

    public var description: String {
        switch self {
        case .notISO8601(let s):
            return "\"\(s)\" is not an ISO 8601 timestamp (expected e.g. 2024-03-31T02:30:00Z, 2024-03-31T02:30:00.123+02:00)"
        case .missingZone(let s):
            return "\"\(s)\" has no time zone; add Z or an offset such as +02:00"
        case .outOfRange(let s):
            return "\"\(s)\" has a field out of range"
        }
    }
}
