import Foundation
import Testing

/// `kvmsnap retention simulate`: pure, needs the built binary only (no libvirt, no catalog).
@Suite(.enabled(if: FileManager.default.isExecutableFile(atPath: CLI.binary)))
struct RetentionSimulateCLITests {
    static let fixtures = IntegrationEnvironment.packageRoot + "/Fixtures/retention"
    /// The fixture's expected plan was worked out by hand from borg 1.2's rules (see the fixture
    /// comment in `smallTimelineMatchesBorgRulesExactly`); times are UTC, so TZ=UTC.
    static let policy = ["--keep-within", "10h", "--keep-last", "1", "--keep-daily", "2", "--keep-weekly", "2", "--keep-monthly", "3"]
    static let utc = ["TZ": "UTC"]

    func simulate(_ extra: [String], timeline: String = fixtures + "/small-timeline.json", environment: [String: String] = utc) throws -> CLI.Result {
        try CLI.runBare(["retention", "simulate", "--timeline", timeline, "--now", "2024-06-15T12:00:00Z"] + extra, environment: environment)
    }

    /// now = 2024-06-15T12:00Z. Overrides: n pending (in progress), f pinned, k failed, j expired,
    /// o expires in the future. Tier set newest first: m l i h g e d c b a a0.
    /// within 10h (> 02:00Z): m, l. last 1: m, l already kept → i. daily 2: 06-15 (kept), 06-13
    /// (i kept), 06-12 g #1, 06-03 e #2. weekly 2 (ISO): W24 (kept), W23 e (kept), W22 d #1,
    /// W12 c #2. monthly 3: 06, 05, 03 already kept, 2023-12 a #1, list ends with 1 < 3 and the
    /// oldest (a0, same month as a) unkept → monthly[oldest] #2. b and h: pruned, no reason.
    @Test func smallTimelineMatchesBorgRulesExactly() throws {
        let result = try simulate(Self.policy + ["--json"])
        #expect(result.status == 0, "\(result.stderr)")
        let expected = try String(contentsOfFile: Self.fixtures + "/small-expected.json", encoding: .utf8)
        #expect(result.stdout == expected)
    }

    @Test func tableShowsEveryDecisionAndWhatEachRuleKept() throws {
        let result = try simulate(Self.policy)
        #expect(result.status == 0, "\(result.stderr)")
        let lines = result.stdout.split(separator: "\n").map { $0.split(separator: " ", omittingEmptySubsequences: true).joined(separator: " ") }
        for row in [
            "b-2024-03-05 2024-03-05 08:00:00 prune -", "a0-2023-12-02 2023-12-02 08:00:00 keep monthly[oldest] #2",
            "n-2024-06-15d 2024-06-15 11:30:00 leave alone in progress", "k-2024-06-15a 2024-06-15 01:00:00 prune failed",
            "within 10h 2", "last 1 1", "daily 2 2", "weekly 2 2", "monthly 3 2", "pinned / not expired 2",
            "total: 11 kept, 4 pruned, 1 left alone (as of 2024-06-15T12:00:00Z)",
        ] {
            #expect(lines.contains(row), "missing line '\(row)' in:\n\(result.stdout)")
        }
    }

    @Test func periodsFollowTheLocalTimeZone() throws {
        // In Auckland (UTC+12) h (06-13 09:00Z = 06-13 21:00 local) and i (06-14 06:00 local) fall on
        // different days, so daily keeps h, and the plan differs from the UTC one.
        let result = try simulate(Self.policy + ["--json"], environment: ["TZ": "Pacific/Auckland"])
        #expect(result.status == 0)
        #expect(result.stdout.contains(#"{"name": "h-2024-06-13a", "keep": true, "reason": "daily #1"}"#), "\(result.stdout)")
    }

    @Test(arguments: [
        (["--keep-last", "0"], "the retention policy is empty"),
        ([], "the retention policy is empty"),
        (["--keep-within", "5x"], #"invalid duration "5x""#),
        (["--keep-within", "1.5d"], "must be an integer"),
        (["--keep-daily", "-2"], "--keep-daily -2 is invalid"),
        (["--keep-last", "3", "--now", "yesterday"], "bad --now"),
    ])
    func badPolicyIsOneLineExit64(args: [String], message: String) throws {
        let result = try CLI.runBare(["retention", "simulate", "--timeline", Self.fixtures + "/small-timeline.json"] + args, environment: Self.utc)
        #expect(result.status == 64, "\(args): exit \(result.status) \(result.stderr)")
        #expect(result.stdout.isEmpty)
        let lines = result.stderr.split(separator: "\n")
        #expect(
            lines.count == 1 && lines.first?.hasPrefix("kvmsnap: error: ") == true && lines.first?.contains(message) == true,
            "\(args): \(result.stderr)")
    }

    @Test func unlimitedCountIsAccepted() throws {
        let result = try simulate(["--keep-daily", "-1", "--json"])
        #expect(result.status == 0, "\(result.stderr)")
        // Every day that has a tier-set snapshot keeps its newest one: h shares 06-13 with i, b is the 7th day (m i g e d c b a a0).
        #expect(result.stdout.contains(#"{"name": "h-2024-06-13a", "keep": false, "reason": null}"#))
        #expect(result.stdout.contains(#"{"name": "b-2024-03-05", "keep": true, "reason": "daily #7"}"#), "\(result.stdout)")
    }

    @Test(arguments: [
        ("[", "the timeline is not valid JSON"),
        (#"{"name": "x"}"#, "must be a JSON array"),
        (#"[{"name": "x"}]"#, #"snapshot #1 ("x"): missing "createdAt""#),
        (#"[{"name": "x", "createdAt": "2024-01-01T00:00:00Z", "pined": true}]"#, #"unknown key "pined""#),
    ])
    func malformedTimelineIsOneLineExit64(content: String, message: String) throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("kvmsnap-sim-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        let file = dir.appendingPathComponent("timeline.json").path
        try content.write(toFile: file, atomically: true, encoding: .utf8)
        let result = try simulate(["--keep-last", "1"], timeline: file)
        #expect(result.status == 64, "exit \(result.status) \(result.stderr)")
        let lines = result.stderr.split(separator: "\n")
        #expect(lines.count == 1 && lines.first?.contains(message) == true, "\(result.stderr)")
    }

    @Test func unreadableTimelineIsOneLineExit64() throws {
        for path in ["/nonexistent/timeline.json", "/"] {
            let result = try simulate(["--keep-last", "1"], timeline: path)
            #expect(result.status == 64, "\(path): exit \(result.status) \(result.stderr)")
            let lines = result.stderr.split(separator: "\n")
            #expect(lines.count == 1 && lines.first?.contains("cannot read timeline \(path)") == true, "\(result.stderr)")
        }
    }
}
