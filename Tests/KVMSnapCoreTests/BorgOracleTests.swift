import Foundation
import TestSupport
import Testing

@testable import KVMSnapCore

/// Runs borg 1.2's own prune planning (Resources/borg_prune_oracle.py, /usr/bin/python3 with
/// Debian's borgbackup) on many random timelines and demands the same kept set and the same
/// `rule #k` reasons.
@Suite("borg 1.2 oracle")
struct BorgOracleTests {
    static let zones = ["UTC", "Europe/Berlin", "America/New_York", "Australia/Lord_Howe", "Asia/Kathmandu"]

    struct Case {
        var tz: String
        var now: Int64  // µs
        var within: String?
        var counts: [RetentionRule: Int]
        var snapshots: [(name: String, us: Int64)]  // input order for kvmsnap (shuffled)

        var policy: RetentionPolicy {
            RetentionPolicy(
                keepWithin: within.map { try! RetentionDuration(parsing: $0) },
                keepLast: counts[.last] ?? 0, keepHourly: counts[.hourly] ?? 0, keepDaily: counts[.daily] ?? 0,
                keepWeekly: counts[.weekly] ?? 0, keepMonthly: counts[.monthly] ?? 0, keepYearly: counts[.yearly] ?? 0)
        }

        var json: [String: Any] {
            var rules: [String: Int] = [:]
            for (r, n) in counts where n != 0 { rules[r == .last ? "secondly" : r.rawValue] = n }
            // borg's manifest order: ascending name (see RetentionPlanner's tie rule).
            let manifest = snapshots.sorted { $0.name < $1.name }.map { ["name": $0.name, "ts_us": $0.us] as [String: Any] }
            return ["tz": tz, "now_us": now, "within": within as Any? ?? NSNull(), "rules": rules, "archives": manifest]
        }

        var summary: String {
            let rules = RetentionRule.periodRules.compactMap { r in counts[r].flatMap { $0 != 0 ? "\(r)=\($0)" : nil } }
            return "tz=\(tz) within=\(within ?? "-") \(rules.joined(separator: " ")) n=\(snapshots.count)"
        }
    }

    /// Runs the oracle on all cases at once. Fails (does not skip) when borg is missing.
    static func runOracle(_ cases: [[String: Any]]) throws -> [[String: [Any]]] {
        guard let script = Bundle.module.url(forResource: "borg_prune_oracle", withExtension: "py", subdirectory: "Resources") else {
            Issue.record("borg_prune_oracle.py is missing from the test resources")
            return []
        }
        let python = "/usr/bin/python3"
        guard FileManager.default.isExecutableFile(atPath: python) else {
            Issue.record("\(python) not found: install python3 and borgbackup 1.2 (apt-get install borgbackup; scripts/host-setup.sh installs it)")
            return []
        }
        let input = FileManager.default.temporaryDirectory.appendingPathComponent("borg-oracle-\(UUID().uuidString).json")
        try JSONSerialization.data(withJSONObject: cases).write(to: input)
        defer { try? FileManager.default.removeItem(at: input) }

        let process = Process()
        process.executableURL = URL(fileURLWithPath: python)
        process.arguments = [script.path]
        process.standardInput = try FileHandle(forReadingFrom: input)
        let out = Pipe(), err = Pipe()
        process.standardOutput = out
        process.standardError = err
        try process.run()
        let errData = ErrorCollector(err.fileHandleForReading)
        let data = out.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        let stderr = String(decoding: errData.wait(), as: UTF8.self)
        guard process.terminationStatus == 0 else {
            Issue.record(
                """
                borg oracle failed (exit \(process.terminationStatus)). borg 1.2 must be importable by /usr/bin/python3: \
                install borgbackup (apt-get install borgbackup; scripts/host-setup.sh installs it).
                \(stderr)
                """)
            return []
        }
        guard let results = try JSONSerialization.jsonObject(with: data) as? [[String: Any]] else {
            Issue.record("borg oracle printed something unexpected: \(String(decoding: data.prefix(500), as: UTF8.self))")
            return []
        }
        return results.map { ($0["kept"] as? [String: [Any]]) ?? [:] }
    }

    /// Drains stderr on another thread so a chatty child cannot block on a full pipe.
    final class ErrorCollector: @unchecked Sendable {
        private var data = Data()
        private let done = DispatchSemaphore(value: 0)
        init(_ handle: FileHandle) {
            Thread.detachNewThread { [self] in
                data = handle.readDataToEndOfFile()
                done.signal()
            }
        }
        func wait() -> Data {
            done.wait()
            return data
        }
    }

    static func randomCase(_ rng: inout SplitMix64) -> Case {
        let tz = zones.randomElement(using: &rng)!
        // Start somewhere 2001...2030, sometimes right before a DST change.
        var t = Int64.random(in: 978_307_200...1_893_456_000, using: &rng) * 1_000_000
        if Bool.random(using: &rng) {
            let dstStarts = [
                "2024-03-31T00:00:00Z", "2024-10-26T22:00:00Z", "2023-11-05T03:00:00Z",
                "2024-04-06T12:00:00Z", "2020-12-31T12:00:00Z", "2021-12-30T00:00:00Z",
            ]
            t =
                RetentionPlanner.microseconds(utc(dstStarts.randomElement(using: &rng)!))
                - Int64.random(in: 0...(3 * 86_400), using: &rng) * 1_000_000
        }
        let kind = Int.random(in: 0..<4, using: &rng)
        let count = Int.random(in: 1...(kind == 3 ? 300 : 180), using: &rng)
        let spanScale = [1, 3, 10, 40].randomElement(using: &rng)!
        var times: [Int64] = []
        for _ in 0..<count {
            times.append(t)
            let step: Int64
            switch kind {
            case 0: step = 3600 * Int64(spanScale) + Int64.random(in: -300...300, using: &rng)  // hourly-ish
            case 1: step = 86_400 * Int64(spanScale) / 3 + Int64.random(in: -3600...3600, using: &rng)  // daily-ish
            case 2: step = Int64.random(in: 1...(86_400 * 10 * Int64(spanScale)), using: &rng)  // irregular
            default:  // bursty
                step =
                    Bool.random(using: &rng)
                    ? Int64.random(in: 0...120, using: &rng)
                    : Int64.random(in: 3600...(86_400 * 20 * Int64(spanScale)), using: &rng)
            }
            var us = step * 1_000_000
            if Int.random(in: 0..<4, using: &rng) == 0 { us += Int64.random(in: 0..<1_000_000, using: &rng) }
            if Int.random(in: 0..<12, using: &rng) == 0 { us = 0 }  // equal timestamps
            t += max(us, 0)
        }
        let newest = times.max()!
        let now = newest + Int64.random(in: 0...(86_400 * 40), using: &rng) * 1_000_000 / Int64([1, 10, 100].randomElement(using: &rng)!)

        var counts: [RetentionRule: Int] = [:]
        repeat {
            for r in RetentionRule.periodRules where Int.random(in: 0..<10, using: &rng) < 4 {
                counts[r] = Int.random(in: 0..<6, using: &rng) == 0 ? -1 : Int.random(in: 1...[3, 10, 60].randomElement(using: &rng)!, using: &rng)
            }
        } while counts.isEmpty && Bool.random(using: &rng)
        var within: String? = nil
        if counts.isEmpty || Int.random(in: 0..<4, using: &rng) == 0 {
            let unit = ["H", "d", "w", "m", "y"].randomElement(using: &rng)!
            within = "\(Int.random(in: 1...(unit == "H" ? 200 : 20), using: &rng))\(unit)"
        }
        // Unique random names (tie order depends on them), shuffled input order.
        var names = Set<String>()
        var snaps: [(String, Int64)] = []
        for us in times {
            var name: String
            repeat {
                name =
                    String((0..<Int.random(in: 1...3, using: &rng)).map { _ in "abcdefghij".randomElement(using: &rng)! })
                    + "-\(Int.random(in: 0..<100_000, using: &rng))"
            } while !names.insert(name).inserted
            snaps.append((name, us))
        }
        snaps.shuffle(using: &rng)
        return Case(tz: tz, now: now, within: within, counts: counts, snapshots: snaps.map { (name: $0.0, us: $0.1) })
    }

    static func borgReasons(_ kept: [String: [Any]], within: String?) -> [String: String] {
        var out: [String: String] = [:]
        for (name, pair) in kept {
            let rule = (pair.first as? String) ?? "?"
            let n = (pair.last as? Int) ?? -99
            if rule == "within" {
                out[name] = "within \(try! RetentionDuration(parsing: within!))"
            } else {
                let mapped = rule.replacingOccurrences(of: "secondly", with: "last")
                out[name] = "\(mapped) #\(n)"
            }
        }
        return out
    }

    static func kvmsnapReasons(_ c: Case) throws -> [String: String] {
        let candidates = c.snapshots.map {
            RetentionCandidate(name: $0.name, createdAt: Date(timeIntervalSince1970: Double($0.us) / 1_000_000))
        }
        let plan = try RetentionPlanner.plan(candidates, policy: c.policy, now: Date(timeIntervalSince1970: Double(c.now) / 1_000_000), timeZone: tz(c.tz))
        return plan.keptReasons
    }

    static func compare(_ cases: [Case]) throws -> [(Case, [String])] {
        let results = try runOracle(cases.map(\.json))
        guard results.count == cases.count else {
            if !cases.isEmpty { Issue.record("oracle returned \(results.count) results for \(cases.count) cases") }
            return []
        }
        var mismatches: [(Case, [String])] = []
        for (c, borgKept) in zip(cases, results) {
            let expected = borgReasons(borgKept, within: c.within)
            let actual = try kvmsnapReasons(c)
            if expected != actual {
                let byName = Dictionary(uniqueKeysWithValues: c.snapshots.map { ($0.name, $0.us) })
                let diff = Set(expected.keys).union(actual.keys).filter { expected[$0] != actual[$0] }.sorted { byName[$0]! > byName[$1]! }
                    .map {
                        "\($0) @\(Timestamp.format(Date(timeIntervalSince1970: Double(byName[$0]!) / 1e6))): borg=\(expected[$0] ?? "prune") "
                            + "kvmsnap=\(actual[$0] ?? "prune")"
                    }
                mismatches.append((c, diff))
            }
        }
        return mismatches
    }

    @Test("random timelines: kvmsnap keeps exactly what borg 1.2 keeps, for the same reasons")
    func randomTimelinesMatchBorg() throws {
        let seed = ProcessInfo.processInfo.environment["KVMSNAP_ORACLE_SEED"].flatMap(UInt64.init) ?? UInt64.random(in: 0...UInt64.max)
        var rng = SplitMix64(seed: seed)
        let cases = (0..<300).map { _ in Self.randomCase(&rng) }
        let mismatches = try Self.compare(cases)
        if let smallest = mismatches.min(by: { ($0.1.count, $0.0.snapshots.count) < ($1.1.count, $1.0.snapshots.count) }) {
            Issue.record(
                """
                \(mismatches.count) of \(cases.count) cases differ from borg (seed \(seed); rerun with KVMSNAP_ORACLE_SEED=\(seed)).
                Smallest diff: \(smallest.0.summary) now=\(Timestamp.format(Date(timeIntervalSince1970: Double(smallest.0.now) / 1e6)))
                \(smallest.1.prefix(20).joined(separator: "\n"))
                """)
        }
    }

    /// Hand-picked cases that the nuances in the report rest on, checked against borg itself.
    @Test("hand-picked edge cases agree with borg")
    func edgeCasesMatchBorg() throws {
        func at(_ s: String) -> Int64 { RetentionPlanner.microseconds(utc(s)) }
        let cases: [Case] = [
            // -1 never uses the oldest fallback; a large N does.
            Case(
                tz: "UTC", now: at("2024-01-02T00:00:00Z"), within: nil, counts: [.daily: -1],
                snapshots: [("b", at("2024-01-01T10:00:00Z")), ("a", at("2024-01-01T09:00:00Z"))]),
            Case(
                tz: "UTC", now: at("2024-01-02T00:00:00Z"), within: nil, counts: [.daily: 5],
                snapshots: [("b", at("2024-01-01T10:00:00Z")), ("a", at("2024-01-01T09:00:00Z"))]),
            // equal timestamps: ties ordered by name descending.
            Case(
                tz: "UTC", now: at("2024-01-02T00:00:00Z"), within: nil, counts: [.last: 1],
                snapshots: [("x1", at("2024-01-01T10:00:00Z")), ("x2", at("2024-01-01T10:00:00Z"))]),
            // DST fall-back in Berlin: the repeated hour is one hourly period.
            Case(
                tz: "Europe/Berlin", now: at("2024-10-28T00:00:00Z"), within: nil, counts: [.hourly: -1],
                snapshots: (0..<6).map { ("h\($0)", at("2024-10-26T23:00:00Z") + Int64($0) * 1_800_000_000) }),
            // keep-last compares local seconds: 02:30:00 CET right after 02:30:00 CEST is one period.
            Case(
                tz: "Europe/Berlin", now: at("2024-10-28T00:00:00Z"), within: nil, counts: [.last: -1],
                snapshots: [("cest", at("2024-10-27T00:30:00Z")), ("cet", at("2024-10-27T01:30:00Z"))]),
            Case(
                tz: "Europe/Berlin", now: at("2024-10-28T00:00:00Z"), within: nil, counts: [.last: 2],
                snapshots: [("cest", at("2024-10-27T00:30:00Z")), ("cet", at("2024-10-27T01:30:00Z"))]),
            // Year turn in local time (Berlin) and ISO week 53.
            Case(
                tz: "Europe/Berlin", now: at("2022-01-01T00:00:00Z"), within: nil, counts: [.yearly: 2, .weekly: 2],
                snapshots: [("new", at("2021-01-01T00:30:00Z")), ("old", at("2020-12-31T23:30:00Z")), ("w53", at("2020-12-28T12:00:00Z"))]),
            // keep-within is strict: exactly now - D is not kept.
            Case(
                tz: "UTC", now: at("2024-01-08T00:00:00Z"), within: "7d", counts: [:],
                snapshots: [("edge", at("2024-01-01T00:00:00Z")), ("in", at("2024-01-01T00:00:00.000001Z"))]),
        ]
        let mismatches = try Self.compare(cases)
        for (c, diff) in mismatches {
            Issue.record("differs from borg: \(c.summary)\n\(diff.joined(separator: "\n"))")
        }
    }
}
