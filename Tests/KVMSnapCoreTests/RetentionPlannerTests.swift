import Foundation
import Testing

@testable import KVMSnapCore

/// Table-driven tests. Every expectation was worked out by hand from borg 1.2's algorithm.
@Suite("retention planner tables")
struct RetentionPlannerTests {
    typealias Snap = (name: String, at: String)

    func plan(_ snaps: [Snap], _ policy: RetentionPolicy, now: String = "2030-01-01T00:00:00Z", zone: String = "UTC") throws -> RetentionPlan {
        try RetentionPlanner.plan(snaps.map { RetentionCandidate(name: $0.name, createdAt: utc($0.at)) }, policy: policy, now: utc(now), timeZone: tz(zone))
    }

    @Test("ISO week 53: 2020-12-28 ... 2021-01-03 is one week (2020-W53)")
    func isoWeek53() throws {
        let days = (0..<15).map { d -> Snap in
            let date = CivilTime.civilFromDays(CivilTime.daysFromCivil(year: 2020, month: 12, day: 28) + Int64(d))
            let s = String(format: "%04d-%02d-%02d", Int(date.year), Int(date.month), Int(date.day))
            return (s, "\(s)T12:00:00Z")
        }
        let p = try plan(days, RetentionPolicy(keepWeekly: 3))
        #expect(p.keptReasons == ["2021-01-11": "weekly #1", "2021-01-10": "weekly #2", "2021-01-03": "weekly #3"])
        let all = try plan(days, RetentionPolicy(keepWeekly: -1))
        #expect(all.keptNames == ["2021-01-11", "2021-01-10", "2021-01-03"])
        #expect(all.keptByRule == [.weekly: 3])
    }

    @Test("turn of the year follows local time")
    func yearTurn() throws {
        let snaps: [Snap] = [("new", "2021-01-01T00:30:00Z"), ("old", "2020-12-31T23:30:00Z")]
        #expect(try plan(snaps, RetentionPolicy(keepYearly: 2)).keptReasons == ["new": "yearly #1", "old": "yearly #2"])
        // In Berlin 23:30Z is already 00:30 on 2021-01-01: one yearly period, then the oldest fallback.
        #expect(
            try plan(snaps, RetentionPolicy(keepYearly: 2), zone: "Europe/Berlin").keptReasons
                == ["new": "yearly #1", "old": "yearly[oldest] #2"])
    }

    @Test("DST start in Europe/Berlin (2024-03-31): every UTC hour is its own local hour")
    func dstSpring() throws {
        let snaps: [Snap] = (0..<7).map { h in
            let t = 1_711_836_000 + h * 3600  // 2024-03-30T22:00:00Z ...
            return ("h\(h)", Timestamp.format(Date(timeIntervalSince1970: Double(t))))
        }
        #expect(try plan(snaps, RetentionPolicy(keepHourly: -1), zone: "Europe/Berlin").keptNames.count == 7)
        // 22:00Z is 23:00 on 03-30 local; the rest is 03-31.
        #expect(try plan(snaps, RetentionPolicy(keepDaily: -1), zone: "Europe/Berlin").keptReasons == ["h6": "daily #1", "h0": "daily #2"])
    }

    @Test("DST end in Europe/Berlin (2024-10-27): the repeated 02:xx hour is one hourly period")
    func dstAutumn() throws {
        // 23:00Z 01:00 CEST, 23:30Z 01:30, 00:00Z 02:00 CEST, 00:30Z 02:30 CEST, 01:00Z 02:00 CET,
        // 01:30Z 02:30 CET, 02:00Z 03:00, 02:30Z 03:30
        let snaps: [Snap] = [
            ("a", "2024-10-26T23:00:00Z"), ("b", "2024-10-26T23:30:00Z"), ("c", "2024-10-27T00:00:00Z"),
            ("d", "2024-10-27T00:30:00Z"), ("e", "2024-10-27T01:00:00Z"), ("f", "2024-10-27T01:30:00Z"),
            ("g", "2024-10-27T02:00:00Z"), ("h", "2024-10-27T02:30:00Z"),
        ]
        #expect(
            try plan(snaps, RetentionPolicy(keepHourly: -1), zone: "Europe/Berlin").keptReasons
                == ["h": "hourly #1", "f": "hourly #2", "b": "hourly #3"])
        #expect(
            try plan(snaps, RetentionPolicy(keepHourly: -1)).keptReasons
                == ["h": "hourly #1", "f": "hourly #2", "d": "hourly #3", "b": "hourly #4"])
        // keep-last compares local seconds: 02:30:00 CET right after 02:30:00 CEST is "the same second".
        let twins: [Snap] = [("cest", "2024-10-27T00:30:00Z"), ("cet", "2024-10-27T01:30:00Z")]
        #expect(try plan(twins, RetentionPolicy(keepLast: -1), zone: "Europe/Berlin").keptReasons == ["cet": "last #1"])
        #expect(try plan(twins, RetentionPolicy(keepLast: 2), zone: "Europe/Berlin").keptReasons == ["cet": "last #1", "cest": "last[oldest] #2"])
    }

    @Test("equal timestamps: one period; the greater name counts as newer")
    func equalTimestamps() throws {
        let snaps: [Snap] = [("a", "2024-05-01T10:00:00Z"), ("c", "2024-05-01T10:00:00Z"), ("b", "2024-05-01T10:00:00Z"), ("z", "2024-05-01T09:00:00Z")]
        #expect(try plan(snaps, RetentionPolicy(keepLast: -1)).keptReasons == ["c": "last #1", "z": "last #2"])
        #expect(try plan(snaps, RetentionPolicy(keepLast: 1)).keptReasons == ["c": "last #1"])
        #expect(try plan(snaps, RetentionPolicy(keepLast: 3)).keptReasons == ["c": "last #1", "z": "last #2"])  // z is oldest, already kept
        #expect(try plan(Array(snaps.prefix(3)), RetentionPolicy(keepLast: 2)).keptReasons == ["c": "last #1", "a": "last[oldest] #2"])
    }

    let twoPerDay: [Snap] = [
        ("d3pm", "2024-05-03T15:00:00Z"), ("d3am", "2024-05-03T09:00:00Z"),
        ("d2pm", "2024-05-02T15:00:00Z"), ("d2am", "2024-05-02T09:00:00Z"),
        ("d1pm", "2024-05-01T15:00:00Z"), ("d1am", "2024-05-01T09:00:00Z"),
    ]

    @Test("-1 keeps every period and never uses the oldest fallback")
    func unlimited() throws {
        #expect(try plan(twoPerDay, RetentionPolicy(keepDaily: -1)).keptReasons == ["d3pm": "daily #1", "d2pm": "daily #2", "d1pm": "daily #3"])
    }

    @Test("oldest fallback when the walk ends short of N")
    func oldestFallback() throws {
        #expect(
            try plan(twoPerDay, RetentionPolicy(keepDaily: 5)).keptReasons
                == ["d3pm": "daily #1", "d2pm": "daily #2", "d1pm": "daily #3", "d1am": "daily[oldest] #4"])
        // Exactly N periods: no fallback.
        #expect(try plan(twoPerDay, RetentionPolicy(keepDaily: 3)).keptNames == ["d3pm", "d2pm", "d1pm"])
        let p = try plan(twoPerDay, RetentionPolicy(keepDaily: 5))
        let fallback = p.decisions.first { $0.name == "d1am" }!
        #expect(fallback.isOldestFallback && fallback.rule == .daily && fallback.ordinal == 4)
        #expect(p.keptByRule == [.daily: 4])
    }

    @Test("a period whose newest snapshot an earlier rule kept is skipped, uncounted")
    func skipPeriod() throws {
        #expect(try plan(twoPerDay, RetentionPolicy(keepLast: 1, keepDaily: 1)).keptReasons == ["d3pm": "last #1", "d2pm": "daily #1"])
        #expect(
            try plan(twoPerDay, RetentionPolicy(keepLast: 2, keepDaily: 2)).keptReasons
                == ["d3pm": "last #1", "d3am": "last #2", "d2pm": "daily #1", "d1pm": "daily #2"])
    }

    @Test("keep-within is strict and runs first")
    func within() throws {
        let snaps: [Snap] = [("in", "2024-01-01T00:00:00.000001Z"), ("edge", "2024-01-01T00:00:00Z"), ("old", "2023-12-01T00:00:00Z")]
        let policy = RetentionPolicy(keepWithin: try RetentionDuration(parsing: "7d"), keepLast: 1)
        // "edge" (exactly now − 7d) is not within; it shares its local second with "in", so keep-last
        // sees no new period there and takes "old".
        #expect(try plan(snaps, policy, now: "2024-01-08T00:00:00Z").keptReasons == ["in": "within 7d", "old": "last #1"])
        #expect(
            try plan(snaps, RetentionPolicy(keepWithin: try RetentionDuration(parsing: "7d")), now: "2024-01-08T00:00:00Z").keptReasons
                == ["in": "within 7d"])
    }

    @Test("pinned, expiry and states override the tiers")
    func overrides() throws {
        let now = utc("2024-06-01T00:00:00Z")
        func c(_ name: String, _ at: String, pinned: Bool = false, expires: String? = nil, state: CandidateState = .ready) -> RetentionCandidate {
            RetentionCandidate(id: "id-" + name, name: name, createdAt: utc(at), pinned: pinned, expiresAt: expires.map(utc), state: state)
        }
        let input = [
            c("expired-newest", "2024-05-31T00:00:00Z", expires: "2024-05-31T12:00:00Z"),
            c("r1", "2024-05-30T00:00:00Z"),
            c("pinned-old", "2020-01-01T00:00:00Z", pinned: true),
            c("expires-later", "2021-01-01T00:00:00Z", expires: "2025-01-01T00:00:00Z"),
            c("failed", "2024-05-31T06:00:00Z", state: .failed),
            c("pending", "2024-05-31T07:00:00Z", state: .pending),
            c("deleting", "2019-05-31T07:00:00Z", state: .deleting),
            c("r2", "2024-05-29T00:00:00Z"),
            c("pinned-expired", "2018-01-01T00:00:00Z", pinned: true, expires: "2019-01-01T00:00:00Z"),
            c("pinned-failed", "2018-01-01T00:00:00Z", pinned: true, state: .failed),
            c("pinned-pending", "2018-01-01T00:00:00Z", pinned: true, state: .pending),
            c("expires-now", "2024-01-01T00:00:00Z", expires: "2024-06-01T00:00:00Z"),
        ]
        let p = try RetentionPlanner.plan(input, policy: RetentionPolicy(keepLast: 1), now: now, timeZone: tz("UTC"))
        let got = p.decisions.map { "\($0.name) \($0.action) \($0.reason ?? "-")" }
        #expect(
            got == [
                "expired-newest prune expired 2024-05-31T12:00:00Z",
                "r1 keep last #1",
                "pinned-old keep pinned",
                "expires-later keep expires 2025-01-01T00:00:00Z",
                "failed prune failed",
                "pending leaveAlone in progress",
                "deleting leaveAlone in progress",
                "r2 prune -",
                "pinned-expired keep pinned",
                "pinned-failed keep pinned",
                "pinned-pending leaveAlone in progress",
                "expires-now prune expired 2024-06-01T00:00:00Z",
            ])
        #expect(p.decisions.map(\.id) == input.map(\.id))
        #expect(p.keptByRule == [.last: 1])
        #expect(p.kept.count == 5 && p.pruned.count == 4 && p.leftAlone.count == 3)
        #expect(!p.decisions[5].keep)
    }

    @Test("empty policy and bad counts are refused")
    func refusals() throws {
        let one = [RetentionCandidate(name: "x", createdAt: utc("2024-01-01T00:00:00Z"))]
        #expect(throws: RetentionError.emptyPolicy) { try RetentionPlanner.plan(one, policy: RetentionPolicy(), now: .now, timeZone: tz("UTC")) }
        #expect(throws: RetentionError.emptyPolicy) { try RetentionPlanner.plan([], policy: RetentionPolicy(), now: .now, timeZone: tz("UTC")) }
        #expect(RetentionPolicy().isEmpty)
        #expect(!RetentionPolicy(keepWithin: try RetentionDuration(parsing: "1d")).isEmpty)
        #expect(throws: RetentionError.negativeCount(rule: .weekly, value: -2)) {
            try RetentionPolicy(keepDaily: 3, keepWeekly: -2).validate()
        }
        #expect(throws: RetentionError.negativeCount(rule: .last, value: -5)) {
            try RetentionPlanner.plan(one, policy: RetentionPolicy(keepLast: -5), now: .now, timeZone: tz("UTC"))
        }
        try RetentionPolicy(keepYearly: -1).validate()
        #expect(RetentionError.emptyPolicy.description.contains("--keep-within"))
        #expect(RetentionError.negativeCount(rule: .weekly, value: -2).description.contains("--keep-weekly -2"))
    }

    @Test(
        "durations parse",
        arguments: [
            ("36h", 36 * 3600), ("12H", 12 * 3600), ("7d", 7 * 86_400), ("2w", 14 * 86_400), ("1m", 31 * 86_400),
            ("1y", 365 * 86_400), ("90min", 90 * 60), (" 3d ", 3 * 86_400),
        ] as [(String, Int64)])
    func durations(text: String, seconds: Int64) throws {
        let d = try RetentionDuration(parsing: text)
        #expect(d.seconds == seconds)
        #expect(try RetentionDuration(parsing: d.description) == d)
    }

    @Test(
        "bad durations are refused with a reason",
        arguments: [
            "", "7", "7x", "0d", "-1d", "1.5d", "7M", "7mo", "d", "min", "99999999999999999999d", "7 d", "7dd", "7D", "+7d", "100000000000y",
        ])
    func badDurations(text: String) {
        #expect {
            try RetentionDuration(parsing: text)
        } throws: { error in
            guard let e = error as? RetentionError, case .badDuration(let t, let reason) = e else { return false }
            return t == text && !reason.isEmpty && e.description.contains("invalid duration")
        }
    }

    @Test("policy Codable round trip; missing counts default to 0")
    func policyCodable() throws {
        let p = RetentionPolicy(keepWithin: try RetentionDuration(parsing: "90min"), keepDaily: 7, keepYearly: -1)
        let data = try JSONEncoder().encode(p)
        #expect(try JSONDecoder().decode(RetentionPolicy.self, from: data) == p)
        #expect(try JSONDecoder().decode(RetentionPolicy.self, from: Data(#"{"keepWithin":"1m"}"#.utf8)).keepWithin?.seconds == 31 * 86_400)
        #expect(throws: DecodingError.self) { try JSONDecoder().decode(RetentionPolicy.self, from: Data(#"{"keepWithin":"1x"}"#.utf8)) }
    }
}
