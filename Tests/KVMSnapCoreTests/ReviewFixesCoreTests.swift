import Foundation
import Testing

@testable import KVMSnapCore

/// Bugs found reviewing the merged issue 10 work (pure core).
@Suite("review fixes (core)")
struct ReviewFixesCoreTests {
    /// Item 10 sibling: `retention simulate` in a zone west of Greenwich trapped (exit 132) on a
    /// timeline entry at 0000-01-01T00:00:00Z (local year -1), and printed year 10000 as 0000.
    @Test func localTimestampsAtTheEdgesOfTheYearsNeverTrap() {
        let cases: [(String, String, String)] = [
            ("America/New_York", "0000-01-01T00:00:00Z", "-1-12-31 19:03:58"),
            ("Asia/Tokyo", "9999-12-31T23:00:00Z", "10000-01-01 08:00:00"),
            ("UTC", "0000-01-01T00:00:00Z", "0000-01-01 00:00:00"),
            ("UTC", "9999-12-31T23:59:59Z", "9999-12-31 23:59:59"),
        ]
        for (zone, instant, expected) in cases {
            var formatter = LocalTimestampFormatter(timeZone: TimeZone(identifier: zone)!)
            #expect(formatter.format(utc(instant)) == expected, "\(zone) \(instant)")
        }
    }
}
