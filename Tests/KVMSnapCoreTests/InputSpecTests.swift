import Foundation
import Testing

@testable import KVMSnapCore

/// `--timeout` and `--expires` values, parsed in the core: accepted values and the refusal each
/// bad one gets (the CLI prints the message and exits 64).
@Suite("timeout and expiry specs")
struct InputSpecTests {
    @Test("timeouts in s, min and h", arguments: [("90", 90.0), ("90s", 90), ("10min", 600), ("1.5h", 5400)])
    func timeouts(text: String, seconds: Double) throws {
        #expect(try TimeoutSpec.parse(text) == seconds)
    }

    @Test(
        "bad timeouts are refused with the reason",
        arguments: [
            ("5m", "bad duration '5m': unit must be s, min or h (e.g. 30s, 10min, 2h)"),
            ("0", "bad duration '0': expected a positive number with s, min or h, e.g. 30s, 10min, 2h"),
            ("soon", "bad duration 'soon': expected a positive number with s, min or h, e.g. 30s, 10min, 2h"),
            ("1000000h", "duration '1000000h' is too long (at most \(Bounds.maxDurationText))"),
        ])
    func badTimeouts(text: String, message: String) {
        #expect(throws: SpecError(message)) { try TimeoutSpec.parse(text) }
    }

    @Test func timeoutValidationNamesTheOption() {
        #expect(throws: SpecError("--timeout must be positive")) { try TimeoutSpec.validate(-1, what: "--timeout") }
        #expect(throws: SpecError("hook timeout must be positive")) { try TimeoutSpec.validate(.nan, what: "hook timeout") }
    }

    static let now = ISO8601DateFormatter().date(from: "2030-01-10T12:00:00Z")!

    @Test func expiryDurationsAndDates() throws {
        #expect(try ExpirySpec.parse("14d", now: Self.now) == Self.now.addingTimeInterval(14 * 86_400))
        let utc = TimeZone(identifier: "UTC")!
        #expect(try ExpirySpec.parse("2030-02-01", now: Self.now, timeZone: utc) == ISO8601DateFormatter().date(from: "2030-02-01T00:00:00Z"))
    }

    @Test(
        "bad expiries are refused with the reason",
        arguments: [
            ("soon", "bad --expires 'soon': expected a duration like 14d, 36h, 2w or a date YYYY-MM-DD"),
            ("2020-01-01", "--expires 2020-01-01 is in the past"),
            ("2030-02-30", "bad --expires '2030-02-30': expected a duration like 14d, 36h, 2w or a date YYYY-MM-DD"),
        ])
    func badExpiries(text: String, message: String) {
        #expect(throws: SpecError(message)) { try ExpirySpec.parse(text, now: Self.now) }
    }
}
