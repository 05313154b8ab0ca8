import Foundation
import SnapshotEngine
import Testing

/// The retention, prune, send and drill endpoints on the suite's guest: each refused without a
/// CSRF token (nothing changed), and each outcome checked where the CLI reads it.
extension PanelAPITests {
    /// A job's server-sent events until it ended (the stream closes then), as JSON objects.
    static func followJob(_ s: Setup, _ job: Int) throws -> [[String: Any]] {
        let stream = try HTTP.request("GET", s.api + "/jobs/\(job)/events", headers: ["Authorization": "Bearer \(s.panel.token)"], timeout: 600)
        #expect(stream.status == 200 && stream.headers["content-type"] == "text/event-stream")
        return stream.body.split(separator: "\n").filter { $0.hasPrefix("data: ") }.compactMap {
            try? JSONSerialization.jsonObject(with: Data($0.dropFirst(6).utf8)) as? [String: Any]
        }
    }

    /// The `{"job": id}` of a 202 answer.
    static func startedJob(_ response: HTTP.Response) throws -> Int {
        #expect(response.status == 202, "\(response.status) \(response.body)")
        return try #require((response.json as? [String: Any])?["job"] as? Int, "\(response.body)")
    }

    /// Drill clones (and their isolated networks) a failed test may have left.
    static func removeDrillClones(of vm: String) {
        let uri = IntegrationEnvironment.uri
        let domains = (try? TestGuest.run("virsh", ["-c", uri, "list", "--all", "--name"])) ?? ""
        for name in domains.split(separator: "\n").map(String.init) where name.hasPrefix("drill-\(vm)") {
            _ = try? TestGuest.run("virsh", ["-c", uri, "destroy", name])
            _ = try? TestGuest.run("virsh", ["-c", uri, "undefine", name, "--nvram"])
        }
    }

    func cliJSON(_ s: Setup, _ args: [String]) throws -> Any? {
        let result = try s.cli.run(args + ["--json"])
        #expect(result.status == 0, "\(args): \(result.stderr)")
        return result.json
    }

    /// PUT .../policy stores what `policy show --json` then reads; refused policies change nothing
    /// and answer the CLI's own error text; without the CSRF token: 403.
    func retentionPolicyIsSavedAsPolicySetSavesIt(_ s: Setup) throws {
        let (cli, vm) = (s.cli, s.vm)
        let (cookie, csrf) = try s.panel.login()
        let session = ["Cookie": cookie, "X-CSRF-Token": csrf]
        let none = try #require(try cliJSON(s, ["policy", "show", vm]) as? NSDictionary)
        #expect(none["source"] is NSNull, "\(none)")

        for headers in [["Cookie": cookie], ["Cookie": cookie, "X-CSRF-Token": "wrong"]] {
            let put = try HTTP.request("PUT", s.api + "/vms/\(vm)/policy", headers: headers, json: ["keepLast": 2])
            #expect(put.status == 403, "\(put.status) \(put.body)")
        }
        #expect(try cliJSON(s, ["policy", "show", vm]) as? NSDictionary == none)

        // Refused as `policy set` refuses them, with its message; nothing stored.
        let refusals: [([String: Any], [String])] = [
            (["keepLast": 0], ["--keep-last", "0"]), (["keepDaily": -2], ["--keep-daily", "-2"]),
            (["keepWithin": "3x"], ["--keep-within", "3x"]), (["keepLast": 1, "schedule": "61 * * * *"], ["--keep-last", "1", "--schedule", "61 * * * *"]),
            (["keepLast": 1, "drill": "0 4 * * *"], ["--keep-last", "1", "--drill", "0 4 * * *"]),
            (["keepLast": 1, "quiesce": "sometimes"], ["--keep-last", "1", "--quiesce", "sometimes"]),
        ]
        for (body, args) in refusals {
            let refused = try HTTP.request("PUT", s.api + "/vms/\(vm)/policy", headers: session, json: body)
            let byCLI = try cli.run(["policy", "set", vm] + args)
            #expect(byCLI.status == 64, "\(args): \(byCLI.status) \(byCLI.stderr)")
            let message = (refused.json as? [String: Any])?["error"] as? String ?? ""
            #expect(
                refused.status == 400 && byCLI.stderr.hasPrefix("kvmsnap: error: \(message)\n") && !message.isEmpty,
                "\(body): \(refused.body) vs \(byCLI.stderr)")
        }
        #expect(try cliJSON(s, ["policy", "show", vm]) as? NSDictionary == none)

        // Saved: the answer is what policy show --json reads back; the fields not given are off.
        let saved = try HTTP.request("PUT", s.api + "/vms/\(vm)/policy", headers: session, json: ["keepLast": 2, "keepDaily": 7, "schedule": "0 3 * * *"])
        #expect(saved.status == 200, "\(saved.body)")
        let shown = try #require(try cliJSON(s, ["policy", "show", vm]) as? NSDictionary)
        #expect(saved.json as? NSDictionary == shown)
        let rules = try #require(shown["policy"] as? [String: Any])
        #expect(shown["source"] as? String == "vm" && rules["keepLast"] as? Int == 2 && rules["keepDaily"] as? Int == 7, "\(shown)")
        #expect(rules["schedule"] as? String == "0 3 * * *" && rules["keepWeekly"] as? Int == 0, "\(shown)")
        // The page sends the loaded policy back with its tiers changed: the schedule stays.
        var edited = rules
        edited["keepDaily"] = 0
        let again = try s.panel.api("PUT", "/vms/\(vm)/policy", json: edited)
        let reread = try #require(try cliJSON(s, ["policy", "show", vm]) as? NSDictionary)
        #expect(again.status == 200 && again.json as? NSDictionary == reread, "\(again.body)")
        let rereadRules = try #require(reread["policy"] as? [String: Any])
        #expect(rereadRules["keepLast"] as? Int == 2 && rereadRules["keepDaily"] as? Int == 0 && rereadRules["schedule"] as? String == "0 3 * * *")
        // The preview without rules is the stored policy's prune --dry-run.
        let preview = try s.panel.api("GET", "/vms/\(vm)/retention/preview")
        #expect(preview.json as? NSArray == (try cliJSON(s, ["prune", vm, "--dry-run"]) as? NSArray), "\(preview.body)")
    }

    /// POST .../prune: a wrong typed name or no CSRF token deletes nothing; the right one runs a
    /// prune job whose stream ends succeeded, and `list --json` lacks exactly what the plan pruned.
    func pruneRunsAsAJobAndDeletesWhatThePlanSaid(_ s: Setup) throws {
        let (cli, vm) = (s.cli, s.vm)
        for name in ["r1", "r2", "r3"] { #expect(try cli.run(["create", vm, "--name", name]).status == 0) }
        let plan = try #require(try cliJSON(s, ["prune", vm, "--dry-run"]) as? [[String: Any]])
        let doomed = plan.filter { $0["action"] as? String == "prune" }.compactMap { $0["name"] as? String }
        let kept = plan.filter { $0["action"] as? String != "prune" }.compactMap { $0["name"] as? String }
        // keep-last is borg's keep-secondly: snapshots taken within one second share a period, so
        // which of r1 and r2 is kept depends on the clock; s1 and live are older than both.
        #expect(doomed.count >= 2 && kept.contains("r3") && doomed.contains("s1") && doomed.contains("live"), "\(plan)")

        let before = try cli.run(["list", vm, "--json"]).stdout
        let jobs = (try cliJSON(s, ["jobs"]) as? [Any])?.count
        let (cookie, csrf) = try s.panel.login()
        for headers in [["Cookie": cookie], ["Cookie": cookie, "X-CSRF-Token": "wrong"]] {
            #expect(try HTTP.request("POST", s.api + "/vms/\(vm)/prune", headers: headers, json: ["confirm": vm]).status == 403)
        }
        for confirm in [vm.uppercased(), "", vm + " "] {
            let refused = try HTTP.request("POST", s.api + "/vms/\(vm)/prune", headers: ["Cookie": cookie, "X-CSRF-Token": csrf], json: ["confirm": confirm])
            #expect(refused.status == 400, "'\(confirm)': \(refused.status) \(refused.body)")
        }
        #expect(try cli.run(["list", vm, "--json"]).stdout == before)
        #expect((try cliJSON(s, ["jobs"]) as? [Any])?.count == jobs)

        let started = try HTTP.request("POST", s.api + "/vms/\(vm)/prune", headers: ["Cookie": cookie, "X-CSRF-Token": csrf], json: ["confirm": vm])
        let job = try Self.startedJob(started)
        let events = try Self.followJob(s, job)
        let last = try #require(events.last, "no events")
        #expect(last["kind"] as? String == "prune" && last["state"] as? String == "succeeded", "\(events)")
        let details = try #require((last["details"] as? String).flatMap { try? JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: [String]] })
        #expect(details["planned"] == doomed && details["deleted"] == doomed, "\(details) vs \(doomed)")
        let after = try #require(try cliJSON(s, ["list", vm]) as? [[String: Any]]).compactMap { $0["name"] as? String }
        #expect(Set(after) == Set(kept), "after the prune: \(after), the plan kept \(kept)")
        try cli.expectCheckPasses(vm, "after the panel's prune")
    }

    /// A prune killed in its first delete: the next command finishes that delete's job and marks
    /// the prune job failed as interrupted; nothing stays running and `check` passes.
    func aKilledPruneJobIsFinishedByTheNextCommand(_ s: Setup) throws {
        let (cli, vm) = (s.cli, s.vm)
        for name in ["r4", "r5", "r6"] { #expect(try cli.run(["create", vm, "--name", name]).status == 0) }
        let plan = try #require(try cliJSON(s, ["prune", vm, "--dry-run"]) as? [[String: Any]])
        #expect(plan.contains { $0["action"] as? String == "prune" }, "\(plan)")
        try cli.killAt("delete.started", ["prune", vm], marker: s.f.guest.directory + "/prune-stalled")
        #expect(try cli.run(["list", vm]).status == 0)
        let job = try #require(try s.f.lastJob("prune"))
        #expect(job.state == .failed && (job.error ?? "").contains("interrupted"), "\(job)")
        let jobs = try #require(try cliJSON(s, ["jobs", vm]) as? [[String: Any]])
        #expect(!jobs.contains { $0["state"] as? String == "running" }, "\(jobs)")
        try cli.expectCheckPasses(vm, "after a killed prune")
    }

    /// POST .../send and .../drill: 403 without CSRF and nothing sent or drilled; then each runs as a
    /// job, the vault holds the snapshot (`vault snapshots --json`) and the report is in `drill report --json`.
    func sendAndDrillRunAsJobsAndTheirOutcomeIsWhereTheCLIReadsIt(_ s: Setup) throws {
        let (cli, vm) = (s.cli, s.vm)
        #expect(try cli.run(["vault", "add", "nas", s.f.guest.directory + "/vault"]).status == 0)
        #expect(try s.panel.api("GET", "/vaults").json as? NSArray == (try cliJSON(s, ["vault", "list"]) as? NSArray))
        let (cookie, csrf) = try s.panel.login()
        let jobs = (try cliJSON(s, ["jobs"]) as? [Any])?.count
        for headers in [["Cookie": cookie], ["Cookie": cookie, "X-CSRF-Token": "wrong"]] {
            #expect(try HTTP.request("POST", s.api + "/vms/\(vm)/send", headers: headers, json: ["snapshot": "r3", "vault": "nas"]).status == 403)
            #expect(try HTTP.request("POST", s.api + "/vms/\(vm)/drill", headers: headers, json: ["snapshot": "r3"]).status == 403)
        }
        let session = ["Cookie": cookie, "X-CSRF-Token": csrf]
        let noVault = try HTTP.request("POST", s.api + "/vms/\(vm)/send", headers: session, json: ["snapshot": "r3", "vault": "nosuch"])
        #expect(noVault.status == 404, "\(noVault.body)")
        let both = try HTTP.request("POST", s.api + "/vms/\(vm)/drill", headers: session, json: ["snapshot": "r3", "latest": true])
        #expect(both.status == 400, "\(both.body)")
        #expect((try cliJSON(s, ["vault", "snapshots", "nas"]) as? [Any])?.isEmpty == true)
        #expect((try cliJSON(s, ["drill", "report", vm]) as? [Any])?.isEmpty == true)
        #expect((try cliJSON(s, ["jobs"]) as? [Any])?.count == jobs)

        let sent = try Self.followJob(
            s, try Self.startedJob(try HTTP.request("POST", s.api + "/vms/\(vm)/send", headers: session, json: ["snapshot": "r3", "vault": "nas"])))
        #expect(sent.last?["kind"] as? String == "send" && sent.last?["state"] as? String == "succeeded", "\(sent)")
        let held = try #require(try cliJSON(s, ["vault", "snapshots", "nas", vm]) as? [[String: Any]])
        #expect(held.map { $0["snapshot"] as? String } == ["r3"] && (held.first?["logicalBytes"] as? Int ?? 0) > 0, "\(held)")
        #expect(try s.panel.api("GET", "/vaults/nas/snapshots?vm=\(vm)").json as? NSArray == held as NSArray)
        #expect(try s.panel.api("GET", "/vaults/nas/snapshots?host=x").status == 400)

        let counting = try s.f.guest.waitUntilStillCounting()
        let drillJob = try Self.startedJob(try HTTP.request("POST", s.api + "/vms/\(vm)/drill", headers: session, json: ["snapshot": "r3"]))
        let drilled = try Self.followJob(s, drillJob)
        #expect(drilled.last?["kind"] as? String == "drill" && drilled.last?["state"] as? String == "succeeded", "\(drilled)")
        let reports = try #require(try cliJSON(s, ["drill", "report", vm]) as? [[String: Any]])
        let report = try #require(reports.first { $0["job"] as? Int == drillJob }, "no report of job \(drillJob): \(reports)")
        #expect(report["passed"] as? Bool == true && report["snapshot"] as? String == "r3" && (report["recoverySeconds"] as? Double ?? -1) >= 0, "\(report)")
        #expect(try s.panel.api("GET", "/drills?vm=\(vm)").json as? NSArray == reports as NSArray)
        // The clone is gone and the VM itself kept counting.
        let domains = try TestGuest.run("virsh", ["-c", IntegrationEnvironment.uri, "list", "--all", "--name"])
        #expect(!domains.contains("drill-\(vm)"), "\(domains)")
        #expect(try s.f.guest.waitUntilStillCounting() > counting)
    }
}
