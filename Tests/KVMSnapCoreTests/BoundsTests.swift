import Foundation
import Testing

@testable import KVMSnapCore

/// Issue 10 items 9 and 10: extreme dates, durations and counts never trap the pure core; they
/// are refused with an error (or, for stored values, handled with saturating arithmetic).
@Suite("bounds on dates, durations and counts")
struct BoundsTests {
    static let snaps = [
        RetentionCandidate(name: "a", createdAt: utc("2020-01-01T00:00:00Z")),
        RetentionCandidate(name: "b", createdAt: utc("0001-01-01T00:00:00Z")),
    ]

    @Test(
        "durations longer than 100 years are refused on input",
        arguments: ["292471y", "101y", "1300m", "5300w", "36501d", "876001h", "52560001min", "9223372036854y"])
    func tooLongDurations(text: String) {
        #expect {
            try RetentionDuration(parsing: text)
        } throws: { error in
            "\(error)".contains("at most 100 years")
        }
    }

    @Test func hundredYearsIsAccepted() throws {
        #expect(try RetentionDuration(parsing: "100y").seconds == Bounds.maxDurationSeconds)
        #expect(try RetentionDuration(36_500, .days).seconds == Bounds.maxDurationSeconds)
    }

    @Test("the planner never traps on extreme now, durations or counts")
    func plannerExtremes() throws {
        let earliest = utc("0000-01-01T00:00:00Z"), latest = utc("9999-12-31T23:59:59.999Z")
        for now in [earliest, latest] {
            let policy = RetentionPolicy(
                keepWithin: try RetentionDuration(parsing: "100y"), keepLast: .max, keepHourly: .max,
                keepDaily: .max, keepWeekly: -1, keepMonthly: .max, keepYearly: .max)
            let plan = try RetentionPlanner.plan(
                Self.snaps + [
                    RetentionCandidate(name: "c", createdAt: latest, expiresAt: latest),
                    RetentionCandidate(name: "d", createdAt: earliest),
                ],
                policy: policy, now: now, timeZone: tz("Pacific/Kiritimati"))
            #expect(plan.decisions.count == 4)
        }
    }

    @Test("a keep-within an older version stored (longer than 100 years) saturates instead of overflowing")
    func storedLongKeepWithin() throws {
        let policy = try JSONDecoder().decode(RetentionPolicy.self, from: Data(#"{"keepWithin":"292471y"}"#.utf8))
        #expect(policy.keepWithin?.value == 292_471)
        let plan = try RetentionPlanner.plan(Self.snaps, policy: policy, now: utc("0000-01-01T00:00:00Z"), timeZone: tz("UTC"))
        #expect(plan.keptNames == ["a", "b"])
        #expect(plan.keptReasons["a"] == "within 292471y")
    }

    @Test(
        "instants outside years 0000-9999 are an error naming them, not a trap",
        arguments: [
            Double.nan, .infinity, -.infinity, 1e300, -1e300, 253_402_300_800, -62_167_219_201,
        ])
    func instantsOutOfRange(seconds: Double) throws {
        let bad = Date(timeIntervalSince1970: seconds)
        let policy = RetentionPolicy(keepLast: 1)
        #expect(throws: RetentionError.dateOutOfRange(what: "now")) {
            try RetentionPlanner.plan(Self.snaps, policy: policy, now: bad)
        }
        #expect(throws: RetentionError.dateOutOfRange(what: "snapshot \"x\" createdAt")) {
            try RetentionPlanner.plan(Self.snaps + [RetentionCandidate(name: "x", createdAt: bad)], policy: policy, now: Date())
        }
        #expect(throws: RetentionError.dateOutOfRange(what: "snapshot \"y\" expiresAt")) {
            try RetentionPlanner.plan([RetentionCandidate(name: "y", createdAt: Date(), expiresAt: bad)], policy: policy, now: Date())
        }
        #expect(!Timestamp.format(bad).isEmpty)
    }

    @Test(
        "timestamps an offset pushes out of years 0000-9999 are refused",
        arguments: [
            "9999-12-31T23:59:59-23:59", "0000-01-01T00:00:00+00:01", "9999-12-31T23:59:59.9999Z",
        ])
    func timestampEdges(text: String) {
        #expect(Timestamp.parse(text) == .failure(.outOfRange(text)))
    }

    @Test func timestampEdgesInsideTheRangeParse() {
        #expect(Timestamp.format(utc("0000-01-01T00:00:00Z")) == "0000-01-01T00:00:00Z")
        #expect(Timestamp.format(utc("9999-12-31T23:59:59.5Z")) == "9999-12-31T23:59:59.500000Z")
    }

    @Test(
        "a cron step of Int.max does not overflow",
        arguments: [
            "0 0 * * 5/9223372036854775807", "59/9223372036854775807 * * * *", "0 0 31/9223372036854775807 * *",
            "0 0 * 12/9223372036854775807 *", "0 23/9223372036854775807 * * *",
        ])
    func cronHugeStep(expression: String) throws {
        let cron = try CronSchedule(parsing: expression)
        _ = cron.lastSlot(atOrBefore: utc("2030-01-01T00:00:00Z"), timeZone: tz("UTC"))
    }

    @Test func cronSlotsOutsideTheRangeAreNil() throws {
        let cron = try CronSchedule(parsing: "@daily")
        #expect(cron.lastSlot(atOrBefore: Date(timeIntervalSince1970: 1e300), timeZone: tz("UTC")) == nil)
        #expect(cron.nextSlot(after: Date(timeIntervalSince1970: .nan), timeZone: tz("UTC")) == nil)
        _ = cron.lastSlot(atOrBefore: utc("0000-01-01T00:00:00Z"), timeZone: tz("UTC"))
    }
}

/// Issue 10 item 21: the streaming timeline parser gives what a whole-document parser gives,
/// however the input is cut into chunks, and no input can exhaust memory or the stack.
@Suite("streaming timeline parser")
struct TimelineStreamTests {
    /// Decodes `text` fed `chunk` bytes at a time.
    static func decode(_ text: String, chunk: Int) throws -> [RetentionCandidate] {
        let bytes = Array(text.utf8)
        var offset = 0
        return try Timeline.decode { buffer in
            let n = min(chunk, buffer.count, bytes.count - offset)
            for k in 0..<n { buffer[k] = bytes[offset + k] }
            offset += n
            return n
        }
    }

    static let tricky = #"""
         [ {"name" : "caf\u00e9 \"q\" \\ \/ \b\f\n\r\t \ud83d\ude00 😀", "createdAt":"2024-01-01T00:00:00.5+01:00",
            "pinned":false, "expiresAt" : null, "id": "i", "state": "ready"},
           {"createdAt": "2024-01-02T00:00:00Z", "name": "x", "pinned": true, "expiresAt": "2030-01-01T00:00:00Z"} ]
        """#

    @Test(arguments: [1, 2, 3, 7, 64, 65536])
    func chunkingDoesNotMatter(chunk: Int) throws {
        let whole = try Timeline.decode(Data(Self.tricky.utf8))
        #expect(try Self.decode(Self.tricky, chunk: chunk) == whole)
        #expect(whole.count == 2)
        #expect(whole[0].name == "café \"q\" \\ / \u{8}\u{c}\n\r\t 😀 😀" && whole[0].id == "i" && !whole[0].pinned)
        #expect(whole[1].pinned && whole[1].expiresAt == utc("2030-01-01T00:00:00Z"))
    }

    @Test(
        "bad JSON is refused with where it went wrong",
        arguments: [
            "", "   ", "[", "[{", #"[{"name": "a", "createdAt": "2024-01-01T00:00:00Z"}] x"#,
            #"[{"name": "a", "createdAt": "2024-01-01T00:00:00Z"},]"#, #"[{"a": 01}]"#, "[1.]", "[-]", "[tru]", #"[{"a": 1 2}]"#,
            "[\"\u{1}\"]", #"["\ud800"]"#, #"["\x"]"#, "[\"\\u12g4\"]",
        ])
    func invalidDocuments(text: String) {
        #expect {
            _ = try Self.decode(text, chunk: 3)
        } throws: { error in
            guard case .invalidJSON(let detail)? = error as? TimelineError else { return false }
            return !detail.isEmpty
        }
    }

    @Test func invalidUTF8IsRefused() {
        #expect(throws: TimelineError.self) {
            _ = try Timeline.decode(Data([0x5B, 0x22, 0xFF, 0x22, 0x5D]))
        }
    }

    @Test("nesting a million levels deep is an error, not a stack overflow")
    func deepNesting() {
        let deep = String(repeating: "[", count: 1_000_000)
        #expect(throws: TimelineError.self) { _ = try Timeline.decode(Data(deep.utf8)) }
        let inEntry = #"[{"name": "a", "createdAt": "2024-01-01T00:00:00Z", "x": "# + String(repeating: "{\"a\":", count: 100_000)
        #expect(throws: TimelineError.self) { _ = try Timeline.decode(Data(inEntry.utf8)) }
    }

    @Test("values nested in an entry are named by type in the message")
    func nestedValuesAreTyped() {
        #expect(throws: TimelineError.malformedEntry(index: 0, name: nil, problem: #""name" must be a non-empty string, found an array"#)) {
            _ = try Timeline.decode(Data(#"[{"name": [1, [2, {"x": -0.5e+3}], "s"], "createdAt": "2024-01-01T00:00:00Z"}]"#.utf8))
        }
        #expect(throws: TimelineError.notAnArray(found: "an object")) { _ = try Timeline.decode(Data(#" {"a": [true, false, null]} "#.utf8)) }
    }

    @Test func localTimestampsMatchDateFormatter() {
        for zone in ["UTC", "Europe/Berlin", "Pacific/Auckland", "America/St_Johns", "Asia/Kathmandu"] {
            var fast = LocalTimestampFormatter(timeZone: tz(zone))
            let formatter = DateFormatter()
            formatter.dateFormat = "yyyy-MM-dd HH:mm:ss"
            formatter.timeZone = tz(zone)
            formatter.locale = Locale(identifier: "en_US_POSIX")
            var t = -86_400.0 * 365 * 3 + 0.75
            while t < 86_400 * 365 * 60 {
                let date = Date(timeIntervalSince1970: t)
                #expect(fast.format(date) == formatter.string(from: date), "\(zone) \(t)")
                t += 86_400 * 13 + 3_599.5
            }
        }
    }
}
