import Foundation

/// Fast, allocation-free civil-time arithmetic (proleptic Gregorian calendar) used to derive
/// retention period keys without going through `Calendar`, which is slow on Linux.
///
/// Algorithms: Howard Hinnant, "chrono-Compatible Low-Level Date Algorithms".
public enum CivilTime {
    @inline(__always)
    static func floorDiv(_ a: Int64, _ b: Int64) -> Int64 {
        let q = a / b
        return (a % b != 0 && (a < 0) != (b < 0)) ? q - 1 : q
    }

    /// Days since 1970-01-01 for a proleptic Gregorian date.
    @inline(__always)
    public static func daysFromCivil(year: Int64, month: Int64, day: Int64) -> Int64 {
        let y = month <= 2 ? year - 1 : year
        let era = floorDiv(y, 400)
        let yoe = y - era * 400
        let mp = (month + 9) % 12  // March = 0
        let doy = (153 * mp + 2) / 5 + day - 1
        let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy
        return era * 146_097 + doe - 719_468
    }

    /// Proleptic Gregorian (year, month 1...12, day 1...31) for days since 1970-01-01.
    @inline(__always)
    public static func civilFromDays(_ days: Int64) -> (year: Int64, month: Int64, day: Int64) {
        let z = days + 719_468
        let era = floorDiv(z, 146_097)
        let doe = z - era * 146_097
        let yoe = (doe - doe / 1460 + doe / 36524 - doe / 146_096) / 365
        let doy = doe - (365 * yoe + yoe / 4 - yoe / 100)
        let mp = (5 * doy + 2) / 153
        let d = doy - (153 * mp + 2) / 5 + 1
        let m = mp < 10 ? mp + 3 : mp - 9
        return (yoe + era * 400 + (m <= 2 ? 1 : 0), m, d)
    }

    /// ISO 8601 weekday, Monday = 1 ... Sunday = 7.
    @inline(__always)
    public static func isoWeekday(days: Int64) -> Int64 {
        // 1970-01-01 was a Thursday (4).
        floorDiv(days + 3, 7) * -7 + days + 3 + 1
    }

    /// ISO 8601 week-numbering year and week (strftime `%G` and `%V`).
    @inline(__always)
    public static func isoWeek(days: Int64) -> (year: Int64, week: Int64) {
        let thursday = days - isoWeekday(days: days) + 4
        let year = civilFromDays(thursday).year
        let jan1 = daysFromCivil(year: year, month: 1, day: 1)
        return (year, (thursday - jan1) / 7 + 1)
    }
}

/// Maps UTC seconds to local wall-clock seconds ("seconds since 1970-01-01 00:00 local") for one
/// time zone, asking Foundation only once per constant-offset segment.
///
/// A segment starts at an instant where the offset was looked up and ends at the time zone's next
/// transition (`TimeZone.nextDaylightSavingTimeTransition(after:)`, which reports every offset
/// change, including standard-offset changes such as Asia/Kathmandu's in 1986). Queries in
/// ascending order therefore cost one Foundation call per transition crossed; any query outside
/// the current segment is simply looked up again, so the answer is always the offset valid at
/// that instant (the cross-check test against `Calendar` covers DST edges).
struct LocalTimeConverter {
    let timeZone: TimeZone
    private var segmentStart: Int64 = 1
    private var segmentEnd: Int64 = 0  // empty segment
    private var offset: Int64 = 0

    init(timeZone: TimeZone) {
        self.timeZone = timeZone
    }

    /// Offset from UTC in seconds valid at the UTC instant `utcSeconds`.
    mutating func offset(atUTC utcSeconds: Int64) -> Int64 {
        if utcSeconds >= segmentStart && utcSeconds < segmentEnd { return offset }
        let date = Date(timeIntervalSince1970: Double(utcSeconds))
        offset = Int64(timeZone.secondsFromGMT(for: date))
        segmentStart = utcSeconds
        if let next = timeZone.nextDaylightSavingTimeTransition(after: date) {
            let end = next.timeIntervalSince1970.rounded()
            segmentEnd = end > Double(utcSeconds) ? Int64(end) : utcSeconds + 1
        } else {
            segmentEnd = .max
        }
        return offset
    }

    /// Local wall-clock seconds for the UTC instant.
    mutating func localSeconds(atUTC utcSeconds: Int64) -> Int64 {
        utcSeconds + offset(atUTC: utcSeconds)
    }
}

/// Period keys for the period rules, equal exactly when borg's `strftime` period strings are equal:
/// `last` = `%Y-%m-%d %H:%M:%S`, `hourly` = `%Y-%m-%d %H`, `daily` = `%Y-%m-%d`,
/// `weekly` = `%G-%V`, `monthly` = `%Y-%m`, `yearly` = `%Y` (all in local time).
enum PeriodKey {
    @inline(__always)
    static func key(_ rule: RetentionRule, localSeconds s: Int64) -> Int64 {
        switch rule {
        case .within, .last:
            return s
        case .hourly:
            return CivilTime.floorDiv(s, 3600)
        case .daily:
            return CivilTime.floorDiv(s, 86_400)
        case .weekly:
            let w = CivilTime.isoWeek(days: CivilTime.floorDiv(s, 86_400))
            return w.year * 64 + w.week
        case .monthly:
            let c = CivilTime.civilFromDays(CivilTime.floorDiv(s, 86_400))
            return c.year * 16 + c.month
        case .yearly:
            return CivilTime.civilFromDays(CivilTime.floorDiv(s, 86_400)).year
        }
    }
}

/// `YYYY-MM-DD HH:MM:SS` in a time zone's local time (seconds truncated), as a `DateFormatter`
/// with that format prints it, at a fraction of the cost: one Foundation call per time-zone
/// transition crossed (for tables of a million dates).
public struct LocalTimestampFormatter {
    private var converter: LocalTimeConverter

    public init(timeZone: TimeZone) { converter = LocalTimeConverter(timeZone: timeZone) }

    public mutating func format(_ date: Date) -> String {
        guard Bounds.isSupportedInstant(date) else { return Timestamp.format(date) }
        let local = converter.localSeconds(atUTC: Int64(date.timeIntervalSince1970.rounded(.down)))
        let days = CivilTime.floorDiv(local, 86_400)
        let sod = local - days * 86_400
        let c = CivilTime.civilFromDays(days)
        // The zone's offset can move an instant at the edge of years 0000...9999 out of them
        // (0000-01-01T00:00Z is in year -1 west of Greenwich): no fixed four-digit year then.
        guard (0...9999).contains(c.year) else {
            return String(format: "%lld-%02lld-%02lld %02lld:%02lld:%02lld", c.year, c.month, c.day, sod / 3600, sod / 60 % 60, sod % 60)
        }
        var bytes = [UInt8](repeating: 0x30, count: 19)
        func put(_ value: Int64, at index: Int, width: Int) {
            var v = value
            for k in stride(from: index + width - 1, through: index, by: -1) { bytes[k] = 0x30 + UInt8(v % 10); v /= 10 }
        }
        put(c.year, at: 0, width: 4); bytes[4] = 0x2D; put(c.month, at: 5, width: 2); bytes[7] = 0x2D; put(c.day, at: 8, width: 2)
        bytes[10] = 0x20; put(sod / 3600, at: 11, width: 2); bytes[13] = 0x3A; put(sod / 60 % 60, at: 14, width: 2)
        bytes[16] = 0x3A; put(sod % 60, at: 17, width: 2)
        return String(decoding: bytes, as: UTF8.self)
    }
}
