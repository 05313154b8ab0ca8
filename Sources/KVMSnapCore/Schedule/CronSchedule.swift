import Foundation

/// A 5-field cron schedule (`minute hour day-of-month month day-of-week`) evaluated in local
/// time of a given time zone.
///
/// Syntax (Vixie cron): `*`, numbers, lists `1,15`, ranges `1-5`, steps `*/15`, `0-30/10` and
/// `5/15` (= `5-59/15`), month names `jan`-`dec` and weekday names `sun`-`sat` (case-insensitive,
/// not in ranges with steps only), weekday 0 or 7 = Sunday. Macros: `@yearly` (`@annually`),
/// `@monthly`, `@weekly`, `@daily` (`@midnight`), `@hourly`.
///
/// Day matching follows Vixie cron: when both day-of-month and day-of-week are restricted
/// (neither field starts with `*`), a day matches when **either** matches; otherwise both must.
///
/// Daylight-saving time: slots are wall-clock times. A slot inside a spring-forward gap does not
/// exist and is skipped; a slot inside a fall-back overlap fires once, at its first occurrence.
/// (Vixie cron runs skipped jobs after the jump instead; kvmsnap's rule is simpler to reason
/// about and never takes two snapshots for one slot.)
///
/// ``lastSlot(atOrBefore:timeZone:)`` and ``nextSlot(after:timeZone:)`` step over matching
/// days, hours and minutes with bit masks, so they cost a few time-zone look-ups per
/// candidate slot, not one per minute; the search window is eight years (enough for `29 2`).
public struct CronSchedule: Sendable, Equatable, CustomStringConvertible {
    /// The expression as given (whitespace normalised).
    public let expression: String
    /// Bit i set: minute i (0...59).
    let minutes: UInt64
    /// Bit i set: hour i (0...23).
    let hours: UInt32
    /// Bit i set: day of month i (1...31).
    let daysOfMonth: UInt32
    /// Bit i set: month i (1...12).
    let months: UInt16
    /// Bit i set: weekday i (0 = Sunday ... 6 = Saturday).
    let daysOfWeek: UInt8
    /// Vixie's DOM_STAR / DOW_STAR: the field starts with `*`.
    let dayOfMonthIsStar: Bool
    let dayOfWeekIsStar: Bool

    public var description: String { expression }

    /// How far back or forward the slot search goes, in days.
    static let searchDays: Int64 = 8 * 366 + 1

    public init(parsing text: String) throws(CronError) {
        if let problem = Bounds.optionTextProblem(text, option: "the schedule") { throw CronError(Bounds.clip(text), problem) }
        let trimmed = text.split(whereSeparator: { $0 == " " || $0 == "\t" }).joined(separator: " ")
        guard !trimmed.isEmpty else { throw CronError(text, "empty expression; " + CronError.syntaxHelp) }
        var fields = trimmed.split(separator: " ").map(String.init)
        if fields.count == 1, fields[0].hasPrefix("@") {
            let expansion: String
            switch fields[0].lowercased() {
            case "@yearly", "@annually": expansion = "0 0 1 1 *"
            case "@monthly": expansion = "0 0 1 * *"
            case "@weekly": expansion = "0 0 * * 0"
            case "@daily", "@midnight": expansion = "0 0 * * *"
            case "@hourly": expansion = "0 * * * *"
            case "@reboot": throw CronError(text, "@reboot is not a time schedule; kvmsnap only supports time-based schedules")
            default: throw CronError(text, "unknown macro \(fields[0]); known: @yearly @annually @monthly @weekly @daily @midnight @hourly")
            }
            fields = expansion.split(separator: " ").map(String.init)
        }
        guard fields.count == 5 else {
            throw CronError(text, "expected 5 fields (minute hour day-of-month month day-of-week), got \(fields.count); " + CronError.syntaxHelp)
        }
        let minute = try Field.minute.parse(fields[0], in: text)
        let hour = try Field.hour.parse(fields[1], in: text)
        let dom = try Field.dayOfMonth.parse(fields[2], in: text)
        let month = try Field.month.parse(fields[3], in: text)
        var dow = try Field.dayOfWeek.parse(fields[4], in: text)
        if dow & (1 << 7) != 0 { dow = (dow | 1) & 0x7F }  // 7 = Sunday

        expression = trimmed
        minutes = minute
        hours = UInt32(hour)
        daysOfMonth = UInt32(dom)
        months = UInt16(month)
        daysOfWeek = UInt8(dow)
        dayOfMonthIsStar = fields[2].hasPrefix("*")
        dayOfWeekIsStar = fields[4].hasPrefix("*")

        // A day-of-month that no selected month has (30 2, 31 4) never fires: refuse it.
        if dayOfWeekIsStar {
            let maxDays: [UInt64] = [0, 31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31]
            let possible = (1...12).contains { m in
                months & (1 << m) != 0 && UInt64(daysOfMonth) & ((UInt64(1) << (maxDays[m] + 1)) - 2) != 0
            }
            if !possible {
                throw CronError(text, "the day-of-month \(fields[2]) never occurs in month \(fields[3]); the schedule would never fire")
            }
        }
    }

    // MARK: Matching

    /// True when the local civil day (days since 1970-01-01) matches month and day fields.
    func matches(day: Int64) -> Bool {
        let c = CivilTime.civilFromDays(day)
        guard months & (1 << UInt16(c.month)) != 0 else { return false }
        let domMatch = daysOfMonth & (1 << UInt32(c.day)) != 0
        let dowMatch = daysOfWeek & (1 << UInt8(CivilTime.isoWeekday(days: day) % 7)) != 0
        if dayOfMonthIsStar || dayOfWeekIsStar { return domMatch && dowMatch }
        return domMatch || dowMatch
    }

    /// True when the local wall-clock minute (local seconds, any second within it) matches.
    public func matches(localSeconds s: Int64) -> Bool {
        let day = CivilTime.floorDiv(s, 86_400)
        let sod = s - day * 86_400
        return matches(day: day) && hours & (1 << UInt32(sod / 3600)) != 0 && minutes & (1 << UInt64(sod / 60 % 60)) != 0
    }

    /// The latest matching local minute (local seconds, multiple of 60) at or before `local`.
    func previousLocalMatch(atOrBefore local: Int64) -> Int64? {
        var day = CivilTime.floorDiv(local, 86_400)
        let sod = local - day * 86_400
        var maxHour = Int(sod / 3600)
        var maxMinute = Int(sod / 60 % 60)
        for _ in 0..<Self.searchDays {
            if matches(day: day) {
                var h = maxHour
                while h >= 0 {
                    if hours & (1 << UInt32(h)) != 0, let m = Self.highestBit(minutes, atMost: h == maxHour ? maxMinute : 59) {
                        return day * 86_400 + Int64(h) * 3600 + Int64(m) * 60
                    }
                    h -= 1
                }
            }
            day -= 1
            maxHour = 23
            maxMinute = 59
        }
        return nil
    }

    /// The earliest matching local minute at or after `local` (rounded up to a whole minute).
    func nextLocalMatch(atOrAfter local: Int64) -> Int64? {
        let rounded = CivilTime.floorDiv(local + 59, 60) * 60
        var day = CivilTime.floorDiv(rounded, 86_400)
        let sod = rounded - day * 86_400
        var minHour = Int(sod / 3600)
        var minMinute = Int(sod / 60 % 60)
        for _ in 0..<Self.searchDays {
            if matches(day: day) {
                var h = minHour
                while h <= 23 {
                    if hours & (1 << UInt32(h)) != 0, let m = Self.lowestBit(minutes, atLeast: h == minHour ? minMinute : 0) {
                        return day * 86_400 + Int64(h) * 3600 + Int64(m) * 60
                    }
                    h += 1
                }
            }
            day += 1
            minHour = 0
            minMinute = 0
        }
        return nil
    }

    static func highestBit(_ mask: UInt64, atMost limit: Int) -> Int? {
        let masked = limit >= 63 ? mask : mask & ((UInt64(1) << UInt64(limit + 1)) - 1)
        return masked == 0 ? nil : 63 - masked.leadingZeroBitCount
    }

    static func lowestBit(_ mask: UInt64, atLeast limit: Int) -> Int? {
        let masked = mask & ~((UInt64(1) << UInt64(limit)) - 1)
        return masked == 0 ? nil : masked.trailingZeroBitCount
    }

    // MARK: Slots

    /// The latest slot at or before `date`, or nil when there is none in the search window.
    public func lastSlot(atOrBefore date: Date, timeZone: TimeZone) -> Date? {
        guard Bounds.isSupportedInstant(date) else { return nil }
        let now = Int64(date.timeIntervalSince1970.rounded(.down))
        var zone = ZoneOffsets(timeZone)
        // Local times up to `upper` can map to instants ≤ now (fall-back overlaps included).
        let upper = now + max(zone.offset(now), zone.offset(now - 4 * 3600))
        var candidate = previousLocalMatch(atOrBefore: upper)
        while let local = candidate {
            if let instant = zone.firstInstant(local: local), instant <= now {
                return Date(timeIntervalSince1970: Double(instant))
            }
            // A local time after now's, or one that does not exist (spring-forward gap).
            candidate = previousLocalMatch(atOrBefore: local - 60)
            if let c = candidate, c < upper - Self.searchDays * 86_400 { return nil }
        }
        return nil
    }

    /// The earliest slot strictly after `date`, or nil when there is none in the search window.
    public func nextSlot(after date: Date, timeZone: TimeZone) -> Date? {
        guard Bounds.isSupportedInstant(date) else { return nil }
        let now = Int64(date.timeIntervalSince1970.rounded(.down))
        var zone = ZoneOffsets(timeZone)
        let lower = now + min(zone.offset(now), zone.offset(now + 4 * 3600))
        var candidate = nextLocalMatch(atOrAfter: lower)
        while let local = candidate {
            if let instant = zone.firstInstant(local: local), instant > now {
                return Date(timeIntervalSince1970: Double(instant))
            }
            candidate = nextLocalMatch(atOrAfter: local + 60)
            if let c = candidate, c > lower + Self.searchDays * 86_400 { return nil }
        }
        return nil
    }

    /// Local wall-clock seconds of an instant in `timeZone` (for naming slots).
    public static func localSeconds(_ date: Date, timeZone: TimeZone) -> Int64 {
        let s = Int64(date.timeIntervalSince1970.rounded(.down))
        return s + Int64(timeZone.secondsFromGMT(for: Date(timeIntervalSince1970: Double(s))))
    }
}

/// Offsets of one time zone, with the local → UTC mapping cron needs.
struct ZoneOffsets {
    let timeZone: TimeZone
    init(_ timeZone: TimeZone) { self.timeZone = timeZone }

    mutating func offset(_ utc: Int64) -> Int64 {
        Int64(timeZone.secondsFromGMT(for: Date(timeIntervalSince1970: Double(utc))))
    }

    /// The first UTC instant whose local wall-clock time is `local`; nil inside a gap.
    ///
    /// Candidate offsets are those a day before and after (zones change offset at most once in
    /// two days); an offset is valid when the instant it yields really has that offset.
    mutating func firstInstant(local: Int64) -> Int64? {
        var best: Int64?
        for probe in [local - 86_400, local + 86_400] {
            let o = offset(probe)
            let u = local - o
            if offset(u) == o, best.map({ u < $0 }) ?? true { best = u }
        }
        return best
    }
}

/// A cron expression that cannot be parsed, with the reason.
public struct CronError: Error, Equatable, Sendable, CustomStringConvertible {
    public var expression: String
    public var reason: String
    public var description: String { "invalid schedule \"\(expression)\": \(reason)" }
    public init(_ expression: String, _ reason: String) { self.expression = expression; self.reason = reason }

    static let syntaxHelp = "e.g. \"0 3 * * *\" (03:00 daily), \"*/15 * * * *\", \"30 2 * * mon-fri\", or @daily/@hourly/@weekly/@monthly/@yearly"
}

enum Field {
    case minute, hour, dayOfMonth, month, dayOfWeek

    var name: String {
        switch self {
        case .minute: "minute"
        case .hour: "hour"
        case .dayOfMonth: "day-of-month"
        case .month: "month"
        case .dayOfWeek: "day-of-week"
        }
    }

    var range: ClosedRange<Int> {
        switch self {
        case .minute: 0...59
        case .hour: 0...23
        case .dayOfMonth: 1...31
        case .month: 1...12
        case .dayOfWeek: 0...7
        }
    }

    var names: [String: Int] {
        switch self {
        case .month:
            ["jan": 1, "feb": 2, "mar": 3, "apr": 4, "may": 5, "jun": 6, "jul": 7, "aug": 8, "sep": 9, "oct": 10, "nov": 11, "dec": 12]
        case .dayOfWeek:
            ["sun": 0, "mon": 1, "tue": 2, "wed": 3, "thu": 4, "fri": 5, "sat": 6]
        default: [:]
        }
    }

    func value(_ text: String, in expression: String) throws(CronError) -> Int {
        if let v = Int(text), text.allSatisfy({ $0.isASCII && $0.isNumber }) {
            guard range.contains(v) else {
                throw CronError(expression, "\(name) \(v) is out of range \(range.lowerBound)-\(range.upperBound)")
            }
            return v
        }
        if let v = names[text.lowercased()] { return v }
        let hint =
            names.isEmpty
            ? "a number \(range.lowerBound)-\(range.upperBound)"
            : "a number \(range.lowerBound)-\(range.upperBound) or a name (\(self == .month ? "jan-dec" : "sun-sat"))"
        throw CronError(expression, "\(name) field: \"\(text)\" is not \(hint)")
    }

    /// The set of values as a bit mask (bit v = value v).
    func parse(_ field: String, in expression: String) throws(CronError) -> UInt64 {
        var mask: UInt64 = 0
        for item in field.split(separator: ",", omittingEmptySubsequences: false).map(String.init) {
            guard !item.isEmpty else { throw CronError(expression, "\(name) field \"\(field)\" has an empty list item") }
            let parts = item.split(separator: "/", omittingEmptySubsequences: false).map(String.init)
            guard parts.count <= 2 else { throw CronError(expression, "\(name) field: \"\(item)\" has more than one '/'") }
            var step = 1
            if parts.count == 2 {
                guard let s = Int(parts[1]), parts[1].allSatisfy({ $0.isASCII && $0.isNumber }), s > 0 else {
                    throw CronError(expression, "\(name) field: the step in \"\(item)\" must be a positive number")
                }
                step = s
            }
            let base = parts[0]
            var low: Int, high: Int
            if base == "*" {
                low = range.lowerBound; high = self == .dayOfWeek ? 6 : range.upperBound
            } else if let dash = base.firstIndex(of: "-") {
                low = try value(String(base[..<dash]), in: expression)
                high = try value(String(base[base.index(after: dash)...]), in: expression)
                guard low <= high else {
                    throw CronError(expression, "\(name) field: the range \"\(base)\" runs backwards (write the smaller value first)")
                }
            } else {
                low = try value(base, in: expression)
                high = parts.count == 2 ? (self == .dayOfWeek ? 6 : range.upperBound) : low
            }
            var v = low
            while v <= high {
                mask |= 1 << UInt64(v)
                let (next, overflow) = v.addingReportingOverflow(step)  // */9223372036854775807
                if overflow { break }
                v = next
            }
        }
        return mask
    }
}
