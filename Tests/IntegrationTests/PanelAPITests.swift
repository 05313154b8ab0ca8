import Foundation
import KVMSnapCommands
import SnapshotEngine
import Testing

/// `kvmsnap serve` against the real test guest, booted once for the suite: authentication, CSRF,
/// the typed confirmation, refused paths and bodies, the API answering what the CLI's `--json`
/// prints, restore, prune, send and drill as jobs (PanelAPITests+Actions.swift).
@Suite(.serialized, .enabled(if: IntegrationEnvironment.available))
struct PanelAPITests {
    /// The suite's guest, its CLI and the server.
    struct Setup {
        var f: EngineFixture
        var cli: CLI
        var panel: PanelProcess
        var vm: String { f.guest.name }
        var api: String { panel.base + "/api/v1" }
    }

    @Test func panelAPIOnOneGuest() throws {
        let f = try EngineFixture(tag: "panel")
        defer {
            Self.removeDrillClones(of: f.guest.name)
            f.destroy()
        }
        let cli = CLI(f)
        let panel = try PanelProcess(cli)
        defer { panel.stop() }
        let s = Setup(f: f, cli: cli, panel: panel)
        try authenticationCSRFConfirmationAndRefusedInput(s)
        try createThenRestoreRunsAsAJobWhoseStagesStreamAndTheCounterProvesIt(s)
        try retentionPolicyIsSavedAsPolicySetSavesIt(s)
        try pruneRunsAsAJobAndDeletesWhatThePlanSaid(s)
        try aKilledPruneJobIsFinishedByTheNextCommand(s)
        try sendAndDrillRunAsJobsAndTheirOutcomeIsWhereTheCLIReadsIt(s)
        try loginAttemptsAreRateLimited(s)  // last: it locks this address out of logins for a minute
    }

    /// Every API endpoint, with a body where it takes one (none may answer without authentication).
    static func endpoints(vm: String) -> [(String, String)] {
        [
            ("GET", "/vms"), ("GET", "/usage"), ("GET", "/jobs"), ("GET", "/jobs/1"), ("GET", "/jobs/1/events"), ("GET", "/events"),
            ("GET", "/openapi.json"), ("GET", "/vms/\(vm)/snapshots"), ("POST", "/vms/\(vm)/snapshots"),
            ("PATCH", "/vms/\(vm)/snapshots/s1"), ("DELETE", "/vms/\(vm)/snapshots/s1"), ("POST", "/vms/\(vm)/restore"),
            ("GET", "/vms/\(vm)/policy"), ("GET", "/vms/\(vm)/retention/preview?keep-last=1"), ("PUT", "/vms/\(vm)/policy"),
            ("POST", "/vms/\(vm)/prune"), ("POST", "/vms/\(vm)/send"), ("POST", "/vms/\(vm)/drill"), ("GET", "/vaults"),
            ("GET", "/vaults/nas/snapshots"), ("GET", "/drills"),
        ]
    }

    func authenticationCSRFConfirmationAndRefusedInput(_ s: Setup) throws {
        let (f, cli, panel, vm, api) = (s.f, s.cli, s.panel, s.vm, s.api)
        try cli.createWhileCounting(vm, ["s1"], guest: f.guest)

        // Health answers without authentication and tells nothing (no version, no VM).
        let health = try HTTP.request("GET", api + "/health")
        #expect(health.status == 200)
        #expect(health.json as? [String: String] == ["status": "ok"])
        #expect(!health.body.contains(vm) && !health.body.contains("\"version\""))

        // No session, no token, or a wrong one: 401 on every endpoint; pages redirect to the login.
        for (method, path) in Self.endpoints(vm: vm) {
            for headers in [[:], ["Authorization": "Bearer wrong"], ["Cookie": "kvmsnap_session=forged"]] {
                let response = try HTTP.request(method, api + path, headers: headers, json: method == "GET" ? nil : ["name": "x"])
                #expect(response.status == 401, "\(method) \(path) \(headers): \(response.status)")
                #expect(!response.body.contains(vm), "\(method) \(path) leaks the VM name")
            }
        }
        for page in ["/", "/vms/\(vm)", "/jobs", "/storage", "/vms/\(vm)/retention", "/assets/panel.js"] {
            let response = try HTTP.request("GET", panel.base + page)
            #expect(response.status == 303 && response.headers["location"] == "/login", "\(page): \(response.status)")
        }

        // With the token: the same JSON as the CLI (one model, one encoder).
        func cliJSON(_ args: [String]) throws -> Any? { try cli.run(args).json }
        let vms = try panel.api("GET", "/vms")
        let cliVMs = try cliJSON(["vms", "--json"]) as? NSArray
        #expect(vms.status == 200 && vms.json as? NSArray == cliVMs)
        let list = try panel.api("GET", "/vms/\(vm)/snapshots")
        let cliList = try cli.run(["list", vm, "--json"]).stdout
        #expect(list.status == 200 && list.body == cliList)
        let jobs = try panel.api("GET", "/jobs")
        let cliJobs = try cliJSON(["jobs", "--json"]) as? NSArray
        #expect(jobs.json as? NSArray == cliJobs)
        let usage = try panel.api("GET", "/usage")
        let cliUsage = try cliJSON(["usage", "--json"]) as? NSDictionary
        #expect(usage.json as? NSDictionary == cliUsage)
        let preview = try panel.api("GET", "/vms/\(vm)/retention/preview?keep-last=1")
        let cliPreview = try cliJSON(["prune", vm, "--dry-run", "--keep-last", "1", "--json"]) as? NSArray
        #expect(preview.status == 200 && preview.json as? NSArray == cliPreview, "\(preview.body)")

        // The served OpenAPI document is the committed one.
        let committed = try String(contentsOfFile: IntegrationEnvironment.packageRoot + "/docs/openapi.json", encoding: .utf8)
        #expect(try panel.api("GET", "/openapi.json").body == committed)

        // A session: state-changing requests without or with a wrong CSRF token are refused, nothing changes.
        let (cookie, csrf) = try panel.login()
        let before = try cli.snapshotStates(vm)
        for headers in [["Cookie": cookie], ["Cookie": cookie, "X-CSRF-Token": "wrong"]] {
            let create = try HTTP.request("POST", api + "/vms/\(vm)/snapshots", headers: headers, json: ["name": "csrf"])
            #expect(create.status == 403, "\(headers): \(create.status) \(create.body)")
            let delete = try HTTP.request("DELETE", api + "/vms/\(vm)/snapshots/s1", headers: headers)
            #expect(delete.status == 403)
            let restore = try HTTP.request("POST", api + "/vms/\(vm)/restore", headers: headers, json: ["snapshot": "s1", "confirm": vm])
            #expect(restore.status == 403)
        }
        #expect(try cli.snapshotStates(vm) == before)
        let session = ["Cookie": cookie, "X-CSRF-Token": csrf]
        let edit = try HTTP.request("PATCH", api + "/vms/\(vm)/snapshots/s1", headers: session, json: ["description": "from the panel"])
        #expect(edit.status == 200 && (edit.json as? [String: Any])?["description"] as? String == "from the panel", "\(edit.body)")

        // A wrong confirmation: 400, no job, the guest keeps counting on its current state.
        let jobCount = (try panel.api("GET", "/jobs").json as? [Any])?.count
        for confirm in [vm.uppercased(), vm + " ", "", String(vm.dropLast())] {
            let counting = try f.guest.waitUntilStillCounting()
            let refused = try HTTP.request("POST", api + "/vms/\(vm)/restore", headers: session, json: ["snapshot": "s1", "confirm": confirm])
            #expect(refused.status == 400, "confirm '\(confirm)': \(refused.status) \(refused.body)")
            #expect(try f.guest.waitUntilStillCounting() > counting)
        }
        #expect((try panel.api("GET", "/jobs").json as? [Any])?.count == jobCount)
        #expect(try cli.snapshotStates(vm) == before)

        // Traversal and bad names refused (400); oversized bodies 413; nothing created.
        for path in ["/vms/..%2F..%2Fetc/snapshots", "/vms/%2e%2e/snapshots", "/vms/../vms", "/vms/\(vm)/snapshots/..%2fx", "/vms/a%00b/snapshots"] {
            let response = try panel.api("GET", path)
            #expect(response.status == 400, "\(path): \(response.status) \(response.body)")
        }
        let big = Data(("{\"name\":\"big\",\"description\":\"" + String(repeating: "x", count: 70_000) + "\"}").utf8)
        let oversized = try HTTP.request(
            "POST", api + "/vms/\(vm)/snapshots", headers: ["Authorization": "Bearer \(panel.token)", "Content-Type": "application/json"], rawBody: big)
        #expect(oversized.status == 413, "\(oversized.status) \(oversized.body)")
        #expect(try cli.snapshotStates(vm) == before)
    }

    /// After 5 failures a minute: 429, even for the right token.
    func loginAttemptsAreRateLimited(_ s: Setup) throws {
        for _ in 0..<5 { #expect(try HTTP.request("POST", s.panel.base + "/login", json: ["token": "wrong"]).status == 401) }
        #expect(try HTTP.request("POST", s.panel.base + "/login", json: ["token": s.panel.token]).status == 429)
    }

    func createThenRestoreRunsAsAJobWhoseStagesStreamAndTheCounterProvesIt(_ s: Setup) throws {
        let (f, cli, panel, vm, g) = (s.f, s.cli, s.panel, s.vm, s.f.guest)
        try g.waitForCounter(atLeast: 2)

        let created = try panel.api("POST", "/vms/\(vm)/snapshots", json: ["name": "live", "description": "api"])
        #expect(created.status == 201, "\(created.body)")
        let snapshot = try #require(created.json as? [String: Any])
        #expect(snapshot["name"] as? String == "live" && snapshot["hasMemory"] as? Bool == true)
        let snapshotID = try #require(snapshot["id"] as? String)
        let liveCounter = try #require(try TestGuest.diskCounter(try f.frozenLayerPath(snapshotID, disk: "vda")))
        try g.waitForCounter(atLeast: liveCounter + 4)

        let before = try g.waitUntilStillCounting()
        let started = try panel.api("POST", "/vms/\(vm)/restore", json: ["snapshot": "live", "confirm": vm])
        #expect(started.status == 202, "\(started.body)")
        let job = try #require((started.json as? [String: Any])?["job"] as? Int)
        // The job's stream ends when the job does.
        let stream = try HTTP.request("GET", panel.base + "/api/v1/jobs/\(job)/events", headers: ["Authorization": "Bearer \(panel.token)"])
        #expect(stream.status == 200 && stream.headers["content-type"] == "text/event-stream")
        let events = stream.body.split(separator: "\n").filter { $0.hasPrefix("data: ") }.compactMap {
            try? JSONSerialization.jsonObject(with: Data($0.dropFirst(6).utf8)) as? [String: Any]
        }
        let last = try #require(events.last)
        #expect(last["state"] as? String == "succeeded", "\(stream.body)")
        let order = ["validate", "safety-snapshot", "stop", "revert", "start", "verify", "finishing"]
        let seen = events.compactMap { $0["stage"] as? String }.compactMap { order.firstIndex(of: $0) }
        #expect(seen == seen.sorted() && !seen.isEmpty, "stages out of order: \(stream.body)")

        let first = try g.waitForFirstCounter()
        #expect(first >= liveCounter && first <= liveCounter + 2 && first < before, "first \(first), snapshot \(liveCounter), before \(before)")
        let states = try cli.snapshotStates(vm)
        #expect(states["live"] == "ready" && states.keys.contains { $0.hasPrefix("pre-restore-") })
    }
}
