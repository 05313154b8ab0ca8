import Foundation
import SnapshotCatalog
import SnapshotEngine
import Testing

@Suite(.serialized, .enabled(if: IntegrationEnvironment.available))
struct PruneTests {
    /// One table row of `prune` output whose SNAPSHOT column is `name`, split on runs of 2+ spaces.
    func row(_ output: String, _ name: String) -> [String]? {
        output.split(separator: "\n").map { line in
            line.components(separatedBy: "  ").map { $0.trimmingCharacters(in: .whitespaces) }.filter { !$0.isEmpty }
        }.first { $0.count >= 2 && $0[1] == name }
    }

    func usageTotal(_ cli: CLI, _ vm: String) throws -> Int {
        let result = try cli.run(["usage", vm, "--json"])
        let json = try #require(result.json as? [String: Any], "\(result.stderr)")
        return try #require(json["totalBytes"] as? Int)
    }

    /// s1 (full root) ← s2 ← s3 (pinned) ← s4 ← s5 with the guest counting in between.
    /// `prune --keep-last 2` keeps s4, s5 (last #1/#2) and s3 (pinned), prunes s1 and s2;
    /// afterwards every kept snapshot still restores its counter. (Failed captures, as the product
    /// really leaves them: HardeningRecoveryTests.abandonedCaptureIsMarkedFailedAndPruneRemovesIt.)
    @Test func pruneKeepsLastTwoAndPinnedAndEveryKeptSnapshotStillRestores() throws {
        let f = try EngineFixture(tag: "prune")
        defer { f.destroy() }
        let cli = CLI(f)
        let vm = f.guest.name
        try f.guest.waitForCounter(atLeast: 2)
        var expected: [String: Int] = [:]
        for name in ["s1", "s2", "s3", "s4", "s5"] {
            let created = try cli.run(["create", vm, "--name", name] + (name == "s3" ? ["--pin"] : []))
            #expect(created.status == 0, "\(name): \(created.stderr)")
            let info = try f.engine.snapshot(vm: vm, name: name)
            let counter: Int = try #require(try TestGuest.diskCounter(f.frozenLayerPath(info.record.id, disk: "vda")))
            expected[name] = counter
            try f.guest.waitUntilStillCounting()
        }
        let counters = ["s1", "s2", "s3", "s4", "s5"].map { expected[$0]! }
        #expect(counters == counters.sorted() && Set(counters).count == 5, "\(counters)")

        // Dry run: the plan, and nothing changes.
        let listBefore = try cli.run(["list", vm, "--json"]).stdout
        let filesBefore = filesUnder(f.storePath)
        let usageBefore = try usageTotal(cli, vm)
        let dry = try cli.run(["prune", vm, "--keep-last", "2", "--dry-run"])
        #expect(dry.status == 0, "\(dry.stderr)")
        print("prune --dry-run:\n\(dry.stdout)")
        #expect(row(dry.stdout, "s5").map { Array($0[3...5]) } == ["keep", "last #1", "-"], "\(dry.stdout)")
        #expect(row(dry.stdout, "s4").map { Array($0[3...5]) } == ["keep", "last #2", "-"], "\(dry.stdout)")
        #expect(row(dry.stdout, "s3").map { Array($0[3...5]) } == ["keep", "pinned", "-"], "\(dry.stdout)")
        for name in ["s1", "s2"] {
            let r = row(dry.stdout, name)
            #expect(r?[3] == "prune" && r?[4] == "-" && (r?[5].hasSuffix("MiB") ?? false), "\(name): \(String(describing: r))")
        }
        #expect(dry.stdout.contains("total: 3 kept, 2 to prune, 0 left alone; would reclaim about"), "\(dry.stdout)")
        let dryJSON = try #require(try cli.run(["prune", vm, "--keep-last", "2", "--dry-run", "--json"]).json as? [[String: Any]])
        let plan = Dictionary(uniqueKeysWithValues: dryJSON.map { ($0["name"] as! String, $0) })
        #expect(dryJSON.map { $0["name"] as! String } == ["s1", "s2", "s3", "s4", "s5"])
        #expect(dryJSON.allSatisfy { $0["vm"] as? String == vm })
        #expect(["s1", "s2"].allSatisfy { plan[$0]?["action"] as? String == "prune" })
        #expect(["s3", "s4", "s5"].allSatisfy { plan[$0]?["action"] as? String == "keep" && plan[$0]?["reclaimBytes"] as? Int == 0 })
        #expect(plan["s1"]?["reason"] is NSNull)
        // s1 and s2 each free their memory image; their layers are merged (counted 0), none deleted.
        for name in ["s1", "s2"] {
            let memory = try f.engine.snapshot(vm: vm, name: name).record.memoryPath!
            #expect(plan[name]?["reclaimBytes"] as? Int == Int(ImageTool.allocatedBytes(memory)), "\(name)")
        }
        let estimate = dryJSON.reduce(0) { $0 + ($1["reclaimBytes"] as! Int) }
        #expect(try cli.run(["list", vm, "--json"]).stdout == listBefore)
        #expect(filesUnder(f.storePath) == filesBefore)

        // The real prune.
        let real = try cli.run(["prune", vm, "--keep-last", "2"])
        #expect(real.status == 0, "\(real.stderr)")
        print("prune:\n\(real.stdout)")
        #expect(real.stdout.contains("total: 3 kept, 2 pruned, 0 left alone; reclaimed"), "\(real.stdout)")
        #expect(Set(try cli.snapshotStates(vm).keys) == ["s3", "s4", "s5"])
        let usageAfter = try usageTotal(cli, vm)
        print("prune reclaim: usage before \(usageBefore) B, after \(usageAfter) B, dropped \(usageBefore - usageAfter) B; estimated \(estimate) B")
        #expect(usageAfter < usageBefore)
        // Merges free a little more than the estimate's 0; the guest's counter writes add a little.
        let dropped = usageBefore - usageAfter
        #expect(
            Double(dropped) >= Double(estimate) * 0.95 && Double(dropped) <= Double(estimate) * 1.5 + 4_194_304,
            "dropped \(dropped) vs estimated \(estimate)")

        try cli.expectCheckPasses(vm, "check after prune: ")

        // Every kept snapshot still restores its memory and disks.
        for name in ["s3", "s4", "s5"] {
            let info = try f.engine.snapshot(vm: vm, name: name)
            #expect(try TestGuest.diskCounter(f.frozenLayerPath(info.record.id, disk: "vda")) == expected[name], "\(name) disk")
        }
        for name in ["s5", "s3", "s4"] {
            let counting = try f.guest.waitForCounter(atLeast: counters[4] + 3)
            let reverted = try cli.run(["revert", vm, name, "--confirm", vm])
            #expect(reverted.status == 0, "\(reverted.stderr)")
            let first = try f.guest.waitForFirstCounter()
            #expect(first >= expected[name]! && first <= expected[name]! + 2 && first < counting, "\(name): \(first) vs \(expected[name]!)")
        }
        #expect(try cli.run(["check", vm]).status == 0)
    }

    @Test func policiesRoundTripAndBadPoliciesChangeNothing() throws {
        let f = try EngineFixture(tag: "policy", start: false)
        defer { f.destroy() }
        let cli = CLI(f)
        let vm = f.guest.name
        func show(_ target: [String]) throws -> [String: Any] {
            let result = try cli.run(["policy", "show"] + target + ["--json"])
            #expect(result.status == 0, "\(result.stderr)")
            return try #require(result.json as? [String: Any], "\(result.stdout)")
        }

        #expect(try show([vm])["source"] is NSNull)
        #expect(try show([vm])["policy"] is NSNull)
        let noPolicy = try cli.run(["prune", vm, "--dry-run"])
        #expect(noPolicy.status == 64 && noPolicy.stderr.contains("VM \(vm) has no retention policy"), "\(noPolicy.stderr)")

        #expect(try cli.run(["policy", "set", "--default", "--keep-daily", "7", "--keep-last", "3"]).status == 0)
        var shown = try show([vm])
        #expect(shown["source"] as? String == "default")
        var rules = try #require(shown["policy"] as? [String: Any])
        #expect(rules["keepDaily"] as? Int == 7 && rules["keepLast"] as? Int == 3 && rules["keepWeekly"] as? Int == 0)
        #expect(rules["keepWithin"] is NSNull && rules["fullEvery"] is NSNull)
        #expect(try show([])["source"] as? String == "default")

        let set = try cli.run(["policy", "set", vm, "--keep-within", "2d", "--keep-weekly", "-1", "--full-every", "5"])
        #expect(set.status == 0, "\(set.stderr)")
        #expect(set.stdout == "policy for VM \(vm): keep-within 2d, keep-weekly -1, full-every 5\n")
        shown = try show([vm])
        #expect(shown["source"] as? String == "vm")
        rules = try #require(shown["policy"] as? [String: Any])
        #expect(rules["keepWithin"] as? String == "2d" && rules["keepWeekly"] as? Int == -1 && rules["fullEvery"] as? Int == 5)
        #expect(rules["keepDaily"] as? Int == 0 && rules["keepLast"] as? Int == 0)
        let text = try cli.run(["policy", "show", vm])
        #expect(text.stdout.hasPrefix("VM \(vm)'s own policy, updated "), "\(text.stdout)")
        // The stored JSON is the engine's flat format.
        let stored = try f.engine.catalog.read { try $0.policy(scope: "vm:\(try f.engine.catalogVM(vm).uuid)") }
        #expect(stored?.json == #"{"fullEvery":5,"keepDaily":0,"keepHourly":0,"keepLast":0,"keepMonthly":0,"keepWeekly":-1,"keepWithin":"2d","keepYearly":0}"#)

        let before = try cli.run(["policy", "show", vm, "--json"]).stdout
        let defaultBefore = try cli.run(["policy", "show", "--json"]).stdout
        let refusals: [(args: [String], message: String)] = [
            (["policy", "set", vm], "the retention policy is empty"),
            (["policy", "set", vm, "--keep-daily", "0", "--full-every", "3"], "the retention policy is empty"),
            (["policy", "set", vm, "--keep-within", "3q"], #"invalid duration "3q""#),
            (["policy", "set", vm, "--keep-within", "0d"], "greater than 0"),
            (["policy", "set", vm, "--keep-daily", "-3"], "--keep-daily -3 is invalid"),
            (["policy", "set", "--default", "--keep-monthly", "-2"], "--keep-monthly -2 is invalid"),
            (["policy", "set", vm, "--keep-last", "1", "--full-every", "-1"], "--full-every -1 is invalid"),
            (["prune", vm, "--keep-hourly", "-5", "--dry-run"], "--keep-hourly -5 is invalid"),
            (["verified", vm, "nosuch", "--grace", "soon"], #"invalid duration "soon""#),
        ]
        for c in refusals {
            let result = try cli.run(c.args)
            #expect(result.status == 64, "\(c.args): exit \(result.status) \(result.stderr)")
            let lines = result.stderr.split(separator: "\n")
            #expect(lines.count == 1 && lines[0].hasPrefix("kvmsnap: error: ") && lines[0].contains(c.message), "\(c.args): \(result.stderr)")
        }
        #expect(try cli.run(["policy", "set", vm, "--default", "--keep-last", "1"]).status == 64)
        #expect(try cli.run(["policy", "set", "no-such-vm-\(UUID().uuidString.prefix(6))", "--keep-last", "1"]).status == 2)
        #expect(try cli.run(["policy", "show", vm, "--json"]).stdout == before)
        #expect(try cli.run(["policy", "show", "--json"]).stdout == defaultBefore)

        let cleared = try cli.run(["policy", "clear", vm])
        #expect(cleared.status == 0 && cleared.stdout == "removed VM \(vm)'s own policy\n", "\(cleared.stdout)")
        #expect(try show([vm])["source"] as? String == "default")
        #expect(try cli.run(["policy", "clear", vm]).stdout.contains("was not set"))
        #expect(try cli.run(["policy", "clear", "--default"]).status == 0)
        #expect(try show([vm])["source"] is NSNull)
    }

    @Test func verifiedUnpinsWithGraceAndUnpinDoesNot() throws {
        let f = try EngineFixture(tag: "verified", start: false)
        defer { f.destroy() }
        let cli = CLI(f)
        let vm = f.guest.name
        // Disk-only snapshots of the shut-off guest: quick, no memory.
        #expect(try cli.run(["create", vm, "--name", "a", "--pin"]).status == 0)
        #expect(try cli.run(["create", vm, "--name", "b", "--pin"]).status == 0)
        let start = Date()
        let verified = try cli.run(["verified", vm, "a", "--grace", "3d", "--json"])
        #expect(verified.status == 0, "\(verified.stderr)")
        let a = try f.engine.snapshot(vm: vm, name: "a").record
        #expect(!a.pinned)
        let expiry = try #require(a.expiresAt)
        #expect(abs(expiry.timeIntervalSince(start) - 3 * 86_400) < 30, "\(expiry)")
        let defaultGrace = try cli.run(["verified", vm, "b"])
        #expect(defaultGrace.status == 0 && defaultGrace.stdout.hasPrefix("'b' verified: unpinned, expires "), "\(defaultGrace.stdout)")
        let b = try f.engine.snapshot(vm: vm, name: "b").record
        #expect(!b.pinned && abs((b.expiresAt ?? .distantPast).timeIntervalSince(start) - 14 * 86_400) < 30)

        #expect(try cli.run(["edit", vm, "b", "--pin"]).status == 0)
        #expect(try cli.run(["unpin", vm, "b"]).status == 0)
        let unpinned = try f.engine.snapshot(vm: vm, name: "b").record
        #expect(!unpinned.pinned && unpinned.expiresAt == b.expiresAt)
        #expect(try cli.run(["unpin", vm, "missing"]).status == 2)

        // With both unexpired, prune keeps them by expiry, whatever the rules say.
        let dry = try cli.run(["prune", vm, "--keep-last", "1", "--dry-run", "--json"])
        let rows = try #require(dry.json as? [[String: Any]], "\(dry.stderr)")
        #expect(rows.map { $0["action"] as? String } == ["keep", "keep"])
        #expect(rows.allSatisfy { ($0["reason"] as? String)?.hasPrefix("expires ") == true }, "\(rows)")

        // --all = every VM in this catalog (just this one); VMs and --all exclude each other.
        let all = try cli.run(["prune", "--all", "--keep-last", "1", "--dry-run", "--json"])
        let allRows = try #require(all.json as? [[String: Any]], "\(all.stderr)")
        #expect(allRows.map { $0["vm"] as? String } == [vm, vm] && allRows.map { $0["name"] as? String } == ["a", "b"])
        #expect(try cli.run(["prune", vm, "--all", "--keep-last", "1", "--dry-run"]).status == 64)
        #expect(try cli.run(["prune", "--keep-last", "1", "--dry-run"]).status == 64)
        #expect(try cli.snapshotStates(vm) == ["a": "ready", "b": "ready"])
    }
}
