import Foundation
import TestSupport
import Testing

@testable import KVMSnapCore

/// The fast period keys must agree with Foundation's Calendar for every instant.
@Suite("fast local-time keys vs Calendar")
struct LocalTimeTests {
    static let zones = ["UTC", "Europe/Berlin", "America/New_York", "Australia/Lord_Howe", "Asia/Kathmandu"]

    struct Expected: Equatable, CustomStringConvertible {
        var year, month, day, hour, minute, second, isoYear, isoWeek: Int
        var description: String { "\(year)-\(month)-\(day) \(hour):\(minute):\(second) iso \(isoYear)-W\(isoWeek)" }
    }

    static func calendarFields(_ utcSeconds: Int64, _ zone: TimeZone) -> Expected {
        var greg = Calendar(identifier: .gregorian)
        greg.timeZone = zone
        var iso = Calendar(identifier: .iso8601)
        iso.timeZone = zone
        let date = Date(timeIntervalSince1970: Double(utcSeconds))
        let c = greg.dateComponents([.year, .month, .day, .hour, .minute, .second], from: date)
        let w = iso.dateComponents([.yearForWeekOfYear, .weekOfYear], from: date)
        return Expected(
            year: c.year!, month: c.month!, day: c.day!, hour: c.hour!, minute: c.minute!, second: c.second!,
            isoYear: w.yearForWeekOfYear!, isoWeek: w.weekOfYear!)
    }

    static func fastFields(_ local: Int64) -> Expected {
        let days = CivilTime.floorDiv(local, 86_400)
        let sod = local - days * 86_400
        let c = CivilTime.civilFromDays(days)
        let w = CivilTime.isoWeek(days: days)
        return Expected(
            year: Int(c.year), month: Int(c.month), day: Int(c.day), hour: Int(sod / 3600), minute: Int(sod / 60 % 60),
            second: Int(sod % 60), isoYear: Int(w.year), isoWeek: Int(w.week))
    }

    /// Instants one second either side of every offset change in [from, to), found by scanning
    /// with `secondsFromGMT` hourly and bisecting (independent of the converter's transition API).
    static func transitionNeighbours(_ zone: TimeZone, from: Int64, to: Int64) -> [Int64] {
        func off(_ s: Int64) -> Int { zone.secondsFromGMT(for: Date(timeIntervalSince1970: Double(s))) }
        var out: [Int64] = []
        var t = from
        var prev = off(t)
        while t < to {
            let next = t + 3600
            let o = off(next)
            if o != prev {
                var lo = t, hi = next  // off(lo) == prev, off(hi) != prev
                while hi - lo > 1 {
                    let mid = (lo + hi) / 2
                    if off(mid) == prev { lo = mid } else { hi = mid }
                }
                out += [hi - 2, hi - 1, hi, hi + 1]
            }
            prev = o
            t = next
        }
        return out
    }

    @Test("random instants and DST edges", arguments: zones)
    func matchesCalendar(zoneID: String) {
        let zone = tz(zoneID)
        var rng = SplitMix64(seed: 0x5EED ^ UInt64(zoneID.utf8.count))
        var instants = (0..<3000).map { _ in Int64.random(in: -2_208_988_800...4_102_444_800, using: &rng) }  // 1900...2100
        instants += (0..<2000).map { _ in Int64.random(in: 1_420_070_400...1_893_456_000, using: &rng) }  // 2015...2030
        // Every transition 1980...2030 (Kathmandu's +05:30 -> +05:45 in 1986, Lord Howe's 30-minute DST).
        instants += Self.transitionNeighbours(zone, from: 315_532_800, to: 1_893_456_000)
        // Year turns with ISO week 53 / week 1.
        for y in [2015, 2020, 2021, 2026, 2027] {
            let d = CivilTime.daysFromCivil(year: Int64(y), month: 12, day: 28) * 86_400
            instants += stride(from: d, to: d + 8 * 86_400, by: 3600 * 5 + 17).map { $0 }
        }
        // Converter used in ascending order (as the planner does) and in random order.
        var converter = LocalTimeConverter(timeZone: zone)
        var mismatches: [String] = []
        for (label, list) in [("sorted", instants.sorted()), ("shuffled", instants)] {
            for s in list {
                let expected = Self.calendarFields(s, zone)
                let actual = Self.fastFields(converter.localSeconds(atUTC: s))
                if expected != actual, mismatches.count < 10 {
                    mismatches.append("\(label) \(s) (\(Timestamp.format(Date(timeIntervalSince1970: Double(s))))): calendar \(expected) fast \(actual)")
                }
            }
        }
        #expect(mismatches.isEmpty, "\(zoneID):\n\(mismatches.joined(separator: "\n"))")
    }

    @Test(
        "civil-from-days round trip and ISO weeks",
        arguments: [
            ("2020-12-31", 2020, 53), ("2021-01-03", 2020, 53), ("2021-01-04", 2021, 1), ("2015-12-31", 2015, 53),
            ("2016-01-03", 2015, 53), ("2018-12-31", 2019, 1), ("2026-12-31", 2026, 53), ("2027-01-01", 2026, 53),
            ("1970-01-01", 1970, 1), ("1969-12-29", 1970, 1), ("1969-12-28", 1969, 52),
        ])
    func isoWeeks(date: String, year: Int, week: Int) {
        let parts = date.split(separator: "-").map { Int64($0)! }
        let days = CivilTime.daysFromCivil(year: parts[0], month: parts[1], day: parts[2])
        let back = CivilTime.civilFromDays(days)
        #expect([back.year, back.month, back.day] == parts)
        let w = CivilTime.isoWeek(days: days)
        #expect(w.year == Int64(year) && w.week == Int64(week), "\(date) → \(w.year)-W\(w.week)")
    }
}
