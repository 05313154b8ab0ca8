import Foundation
import Testing

@testable import KVMSnapCore

@Suite("cron schedules")
struct CronScheduleTests {
    // MARK: Parsing

    static let bad: [(String, String)] = [
        ("", "empty expression"),
        ("* * * *", "expected 5 fields"),
        ("* * * * * *", "expected 5 fields"),
        ("60 * * * *", "minute 60 is out of range 0-59"),
        ("* 24 * * *", "hour 24 is out of range 0-23"),
        ("* * 0 * *", "day-of-month 0 is out of range 1-31"),
        ("* * * 13 *", "month 13 is out of range 1-12"),
        ("* * * * 8", "day-of-week 8 is out of range 0-7"),
        ("5-1 * * * *", "runs backwards"),
        ("*/0 * * * *", "step in \"*/0\" must be a positive number"),
        ("*/x * * * *", "must be a positive number"),
        ("1,,2 * * * *", "empty list item"),
        ("x * * * *", "minute field: \"x\" is not a number 0-59"),
        ("* * * foo *", "or a name (jan-dec)"),
        ("* * * * funday", "or a name (sun-sat)"),
        ("1/2/3 * * * *", "more than one '/'"),
        ("0 0 30 2 *", "never occurs in month 2"),
        ("0 0 31 apr,jun *", "never occurs"),
        ("@reboot", "not a time schedule"),
        ("@often", "unknown macro"),
        ("-1 * * * *", "is not a number"),
    ]

    @Test(arguments: bad)
    func rejectsWithAClearReason(_ text: String, _ reason: String) {
        #expect(throws: CronError.self) { try CronSchedule(parsing: text) }
        do { _ = try CronSchedule(parsing: text) } catch {
            #expect(error.description.contains(reason), "\(text): \(error.description)")
            #expect(error.description.hasPrefix("invalid schedule \"\(text)\""))
        }
    }

    @Test func acceptsVixieSyntax() throws {
        for text in [
            "* * * * *", "*/15 * * * *", "0 3 * * *", "0,30 8-18 * * mon-fri", "5/20 * * * *", "0 0 1 JAN,Jul *",
            "0 0 * * 7", "0 0 29 2 *", "0 0 30 2 1", "@daily", "@HOURLY", "  0   3 * *  *  ", "0-30/10 */2 1-15 */3 SUN",
        ] {
            _ = try CronSchedule(parsing: text)
        }
        #expect(try CronSchedule(parsing: "  0   3 * *  *  ").expression == "0 3 * * *")
        #expect(try CronSchedule(parsing: "0 0 * * 7").daysOfWeek == CronSchedule(parsing: "0 0 * * sun").daysOfWeek)
        #expect(try CronSchedule(parsing: "5/20 * * * *").minutes == (1 << 5 | 1 << 25 | 1 << 45))
        #expect(try CronSchedule(parsing: "0-30/10 * * * *").minutes == (1 << 0 | 1 << 10 | 1 << 20 | 1 << 30))
    }

    // MARK: Slots, table-driven

    struct Case: CustomStringConvertible, Sendable {
        var cron: String
        var zone: String
        var at: String
        var last: String?
        var next: String?
        var description: String { "\(cron) @ \(at) [\(zone)]" }
    }

    static let cases: [Case] = [
        // Daily 03:00 (UTC): inclusive "at or before", strict "after".
        Case(cron: "0 3 * * *", zone: "UTC", at: "2030-01-10T03:00:30Z", last: "2030-01-10T03:00:00Z", next: "2030-01-11T03:00:00Z"),
        Case(cron: "0 3 * * *", zone: "UTC", at: "2030-01-10T03:00:00Z", last: "2030-01-10T03:00:00Z", next: "2030-01-11T03:00:00Z"),
        Case(cron: "0 3 * * *", zone: "UTC", at: "2030-01-10T02:59:59Z", last: "2030-01-09T03:00:00Z", next: "2030-01-10T03:00:00Z"),
        Case(cron: "*/15 * * * *", zone: "UTC", at: "2030-01-10T10:14:59Z", last: "2030-01-10T10:00:00Z", next: "2030-01-10T10:15:00Z"),
        Case(cron: "*/15 * * * *", zone: "UTC", at: "2030-12-31T23:59:00Z", last: "2030-12-31T23:45:00Z", next: "2031-01-01T00:00:00Z"),
        // 2030-01-01 is a Tuesday. Vixie: DOM and DOW both restricted → either matches.
        Case(cron: "0 0 13 * fri", zone: "UTC", at: "2030-01-01T00:00:00Z", last: "2029-12-28T00:00:00Z", next: "2030-01-04T00:00:00Z"),
        Case(cron: "0 0 13 * fri", zone: "UTC", at: "2030-01-12T00:00:00Z", last: "2030-01-11T00:00:00Z", next: "2030-01-13T00:00:00Z"),
        // DOM starts with '*' → both must match: odd days that are Fridays.
        Case(cron: "0 0 */2 * fri", zone: "UTC", at: "2030-01-01T00:00:00Z", last: "2029-12-21T00:00:00Z", next: "2030-01-11T00:00:00Z"),
        Case(cron: "0 0 * * 7", zone: "UTC", at: "2030-01-01T00:00:00Z", last: "2029-12-30T00:00:00Z", next: "2030-01-06T00:00:00Z"),
        Case(cron: "0 9 * * mon-fri", zone: "UTC", at: "2030-01-05T12:00:00Z", last: "2030-01-04T09:00:00Z", next: "2030-01-07T09:00:00Z"),
        Case(cron: "0 0 29 2 *", zone: "UTC", at: "2030-03-01T00:00:00Z", last: "2028-02-29T00:00:00Z", next: "2032-02-29T00:00:00Z"),
        Case(cron: "@monthly", zone: "UTC", at: "2030-02-15T00:00:00Z", last: "2030-02-01T00:00:00Z", next: "2030-03-01T00:00:00Z"),
        // Local time: 03:00 in Berlin is 02:00Z in winter, 01:00Z in summer.
        Case(cron: "0 3 * * *", zone: "Europe/Berlin", at: "2030-01-10T02:00:30Z", last: "2030-01-10T02:00:00Z", next: "2030-01-11T02:00:00Z"),
        Case(cron: "0 3 * * *", zone: "Europe/Berlin", at: "2030-07-10T01:30:00Z", last: "2030-07-10T01:00:00Z", next: "2030-07-11T01:00:00Z"),
        // Berlin spring forward 2030-03-31 02:00 CET → 03:00 CEST (01:00Z): 02:30 does not exist that day.
        Case(cron: "30 2 * * *", zone: "Europe/Berlin", at: "2030-03-31T10:00:00Z", last: "2030-03-30T01:30:00Z", next: "2030-04-01T00:30:00Z"),
        Case(cron: "0 3 * * *", zone: "Europe/Berlin", at: "2030-03-31T01:00:00Z", last: "2030-03-31T01:00:00Z", next: "2030-04-01T01:00:00Z"),
        Case(cron: "0 * * * *", zone: "Europe/Berlin", at: "2030-03-31T00:30:00Z", last: "2030-03-31T00:00:00Z", next: "2030-03-31T01:00:00Z"),
        // Berlin fall back 2030-10-27 03:00 CEST → 02:00 CET (01:00Z): 02:30 exists twice, fires once (first).
        Case(cron: "30 2 * * *", zone: "Europe/Berlin", at: "2030-10-27T00:30:00Z", last: "2030-10-27T00:30:00Z", next: "2030-10-28T01:30:00Z"),
        Case(cron: "30 2 * * *", zone: "Europe/Berlin", at: "2030-10-27T01:45:00Z", last: "2030-10-27T00:30:00Z", next: "2030-10-28T01:30:00Z"),
        Case(cron: "0 * * * *", zone: "Europe/Berlin", at: "2030-10-27T00:00:00Z", last: "2030-10-27T00:00:00Z", next: "2030-10-27T02:00:00Z"),
        Case(cron: "0 * * * *", zone: "Europe/Berlin", at: "2030-10-27T01:30:00Z", last: "2030-10-27T00:00:00Z", next: "2030-10-27T02:00:00Z"),
        Case(cron: "*/15 * * * *", zone: "Europe/Berlin", at: "2030-10-27T01:20:00Z", last: "2030-10-27T00:45:00Z", next: "2030-10-27T02:00:00Z"),
        // Lord Howe shifts by 30 minutes (fall back 2030-04-07 02:00 +11 → 01:30 +10:30).
        Case(cron: "45 1 * * *", zone: "Australia/Lord_Howe", at: "2030-04-06T15:10:00Z", last: "2030-04-06T14:45:00Z", next: "2030-04-07T15:15:00Z"),
    ]

    @Test(arguments: cases)
    func slots(_ c: Case) throws {
        let cron = try CronSchedule(parsing: c.cron)
        let zone = tz(c.zone)
        #expect(cron.lastSlot(atOrBefore: utc(c.at), timeZone: zone).map(Timestamp.format) == c.last, "last")
        #expect(cron.nextSlot(after: utc(c.at), timeZone: zone).map(Timestamp.format) == c.next, "next")
    }

    // MARK: Oracle: minute-by-minute scan with Foundation's Calendar around DST transitions

    /// Every slot in [from, to): UTC minutes whose Calendar wall-clock minute matches, first
    /// occurrence only (a wall-clock minute seen before in the scan is a repeat).
    static func oracleSlots(_ cron: CronSchedule, zone: TimeZone, from: Int64, to: Int64) -> [Int64] {
        var calendar = Calendar(identifier: .gregorian)
        calendar.timeZone = zone
        var seen = Set<Int64>()
        var out: [Int64] = []
        var u = from
        while u < to {
            let c = calendar.dateComponents([.year, .month, .day, .hour, .minute], from: Date(timeIntervalSince1970: Double(u)))
            let local =
                CivilTime.daysFromCivil(year: Int64(c.year!), month: Int64(c.month!), day: Int64(c.day!)) * 86_400
                + Int64(c.hour!) * 3600 + Int64(c.minute!) * 60
            if seen.insert(local).inserted, cron.matches(localSeconds: local) { out.append(u) }
            u += 60
        }
        return out
    }

    @Test(arguments: ["Europe/Berlin", "America/New_York", "Australia/Lord_Howe"])
    func chainedNextAndLastAgreeWithAMinuteScan(_ zoneID: String) throws {
        let zone = tz(zoneID)
        // Two days around each 2030 transition (found with the zone's own API).
        var windows: [Int64] = []
        var t = Date(timeIntervalSince1970: Double(utc("2030-01-01T00:00:00Z").timeIntervalSince1970))
        for _ in 0..<2 {
            guard let next = zone.nextDaylightSavingTimeTransition(after: t) else { break }
            windows.append(Int64(next.timeIntervalSince1970) - 86_400)
            t = next
        }
        #expect(windows.count == 2)
        for expression in ["*/15 * * * *", "30 2 * * *", "0 * * * *", "*/7 1-3 * * *", "45 1 * * *", "0,59 0-4 * * *"] {
            let cron = try CronSchedule(parsing: expression)
            for start in windows {
                let end = start + 2 * 86_400
                let expected = Self.oracleSlots(cron, zone: zone, from: start, to: end)
                var got: [Int64] = []
                var cursor = Date(timeIntervalSince1970: Double(start - 1))
                while let next = cron.nextSlot(after: cursor, timeZone: zone), Int64(next.timeIntervalSince1970) < end {
                    got.append(Int64(next.timeIntervalSince1970))
                    cursor = next
                }
                #expect(got == expected, "\(expression) in \(zoneID) from \(start)")
                // lastSlot(atOrBefore:) of each slot is itself, and of a second before is the previous slot.
                for (i, slot) in expected.enumerated() where i > 0 {
                    let d = Date(timeIntervalSince1970: Double(slot))
                    #expect(cron.lastSlot(atOrBefore: d, timeZone: zone) == d)
                    #expect(
                        cron.lastSlot(atOrBefore: d.addingTimeInterval(-1), timeZone: zone)
                            == Date(timeIntervalSince1970: Double(expected[i - 1])), "\(expression) before \(slot)")
                }
            }
        }
    }

    /// The slot search steps over days and fields, not minutes: measure the worst realistic cases.
    @Test func slotSearchIsFast() throws {
        let zone = tz("Europe/Berlin")
        let now = utc("2031-03-01T00:00:00Z")
        let clock = ContinuousClock()
        for expression in ["* * * * *", "0 3 * * *", "0 0 29 2 *", "0 0 1 1 *", "30 2 31 3 *"] {
            let cron = try CronSchedule(parsing: expression)
            var found = 0
            let elapsed = clock.measure {
                for i in 0..<200 {
                    let t = now.addingTimeInterval(Double(i) * 3_607)
                    if cron.lastSlot(atOrBefore: t, timeZone: zone) != nil { found += 1 }
                    if cron.nextSlot(after: t, timeZone: zone) != nil { found += 1 }
                }
            }
            print("cron \(expression): 400 slot searches in \(elapsed)")
            #expect(found == 400, "\(expression)")
            #expect(elapsed < .seconds(2), "\(expression): \(elapsed)")
        }
    }
}
