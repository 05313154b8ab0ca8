import Foundation
import SnapshotEngine
import Testing

/// schemathesis (PyPI; scripts/lib/panel-browser.sh installs it) fuzzes a running `kvmsnap serve`
/// over the committed docs/openapi.json with the bearer token: no answer may be a 5xx, and every
/// answer's status code, content type and body must be ones the document declares.
///
/// The VM is a throwaway (its own disks, catalog and store, shut off), so the state-changing
/// operations (create, edit/rename, delete, restore) run for real against it and against nothing
/// else: the VM path parameter is that VM's name 9 times in 10 (else whatever schemathesis makes up),
/// the snapshot (in the path or a restore's body) one of its snapshots every other time. Excluded, explicitly: `GET /events`,
/// a stream that stays open for an hour by design (its per-job form `/jobs/{id}/events` is fuzzed).
/// Bounded: 15 examples per operation in the coverage phase, and 90 s in all (schemathesis fuzzes
/// until that time is spent, so the test takes about 100 s).
@Suite(.serialized, .enabled(if: IntegrationEnvironment.available))
struct PanelFuzzTests {
    static let checks = "not_a_server_error,status_code_conformance,content_type_conformance,response_schema_conformance"

    @Test func schemathesisFindsNoServerErrorAndEveryAnswerIsDocumented() throws {
        let f = try EngineFixture(tag: "panelfuzz", start: false)
        defer { f.destroy() }
        let cli = CLI(f), vm = f.guest.name
        for name in ["base", "second"] { #expect(try cli.run(["create", vm, "--name", name]).status == 0) }
        let panel = try PanelProcess(cli)
        defer { panel.stop() }
        let scratch = f.guest.directory + "/schemathesis"
        try FileManager.default.createDirectory(atPath: scratch, withIntermediateDirectories: true)
        // No cache: schemathesis would keep one under the working directory (the repository).
        let config = """
            [cache]
            enabled = false
            [dictionaries.vms]
            values = ["\(vm)"]
            [dictionaries.snapshots]
            values = ["base", "second"]
            [parameters]
            "path.vm" = { dictionary = "vms", probability = 0.9 }
            "path.snapshot" = { dictionary = "snapshots", probability = 0.5 }
            "body.snapshot" = { dictionary = "snapshots", probability = 0.5 }
            """
        try config.write(toFile: scratch + "/schemathesis.toml", atomically: true, encoding: .utf8)
        let seed = UInt32.random(in: 1...UInt32.max)
        let run = try ExternalProcess.run(
            "/usr/bin/python3",
            [
                "-m", "schemathesis.cli", "--config-file", scratch + "/schemathesis.toml", "--no-color", "run",
                IntegrationEnvironment.packageRoot + "/docs/openapi.json", "--url", panel.base + "/api/v1",
                "-H", "Authorization: Bearer \(panel.token)", "--checks", Self.checks, "--exclude-operation-id", "events",
                "--phases", "examples,coverage,fuzzing", "--max-examples", "15", "--max-time", "90", "--seed", "\(seed)",
                "--request-timeout", "60", "--workers", "1", "--report", "junit", "--report-junit-path", scratch + "/junit.xml",
            ], timeout: .seconds(170))
        #expect(run.status == 0, "schemathesis (seed \(seed)) found problems:\n\(run.standardOutput)\(run.standardError)")

        // It did test every operation but the excluded one (a run that tested nothing cannot pass).
        let junit = (try? String(contentsOfFile: scratch + "/junit.xml", encoding: .utf8)) ?? ""
        let document = try #require(
            try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: IntegrationEnvironment.packageRoot + "/docs/openapi.json")))
                as? [String: Any])
        let paths = try #require(document["paths"] as? [String: [String: Any]])
        let methods = ["get", "post", "patch", "put", "delete"]
        for (path, item) in paths where path != "/events" {
            for method in methods where item[method] != nil {
                #expect(junit.contains("\(method.uppercased()) \(path)"), "schemathesis did not test \(method.uppercased()) \(path) (seed \(seed))")
            }
        }
        // The server is still up and the guest untouched by anything but the API.
        #expect(try HTTP.request("GET", panel.base + "/api/v1/health").status == 200)
        #expect(!f.guest.isRunning)
    }

    /// The server keeps the encoded listing while the catalog is unchanged: every change, made by
    /// another process (the CLI) or by the server itself, shows at once, byte for byte as `list --json`.
    @Test func snapshotListingStaysEqualToListJSONAcrossChangesByTheCLIAndTheAPI() throws {
        let f = try EngineFixture(tag: "panellist", start: false)
        defer { f.destroy() }
        let cli = CLI(f), vm = f.guest.name
        #expect(try cli.run(["create", vm, "--name", "s1"]).status == 0)
        let panel = try PanelProcess(cli)
        defer { panel.stop() }
        func expectSame(_ step: String, sourceLocation: SourceLocation = #_sourceLocation) throws {
            let served = try panel.api("GET", "/vms/\(vm)/snapshots")
            let printed = try cli.run(["list", vm, "--json"])
            #expect(served.status == 200 && printed.status == 0, "\(step)", sourceLocation: sourceLocation)
            #expect(served.body == printed.stdout, "\(step): served\n\(served.body)\nlist --json\n\(printed.stdout)", sourceLocation: sourceLocation)
        }
        try expectSame("first")
        try expectSame("again, unchanged")
        #expect(try cli.run(["edit", vm, "s1", "--description", "by the CLI"]).status == 0)
        try expectSame("after the CLI's edit")
        #expect(try panel.api("GET", "/vms/\(vm)/snapshots").body.contains("by the CLI"))
        #expect(try cli.run(["create", vm, "--name", "s2"]).status == 0)
        try expectSame("after the CLI's create")
        let edit = try panel.api("PATCH", "/vms/\(vm)/snapshots/s2", json: ["description": "by the API", "pinned": true])
        #expect(edit.status == 200, "\(edit.body)")
        try expectSame("after the API's edit")
        #expect(try panel.api("DELETE", "/vms/\(vm)/snapshots/s1").status == 204)
        try expectSame("after the API's delete")
        #expect(!(try panel.api("GET", "/vms/\(vm)/snapshots").body.contains("\"s1\"")))
    }
}
