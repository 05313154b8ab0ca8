import Foundation
import SnapshotEngine
import Testing

/// schemathesis (PyPI; scripts/lib/panel-browser.sh installs it) fuzzes a running `kvmsnap serve`
/// over the committed docs/openapi.json with the bearer token: no answer may be a 5xx, and every
/// answer's status code, content type and body must be ones the document declares.
///
/// The VM is a throwaway (its own disks, catalog and store, shut off), so the state-changing
/// operations (create, edit/rename, delete, restore) run for real against it and against nothing
/// else. The panel lists every domain of the shared libvirtd (another person's VMs, the guests of
/// suites running in parallel), so schemathesis fuzzes a copy of the document (``pinnedDocument``)
/// in which every parameter that names a VM (the `{vm}` path parameter, the `vm` query parameters)
/// allows only the throwaway's name, and it reuses no value from
/// the answers (`extra-data-sources`: `GET /vms` would hand it the other VMs' names). A second
/// domain, named like another suite's guest, exists during the run and is checked untouched after.
/// The snapshot (in the path or a restore's body) is one of the VM's snapshots every other time.
/// Excluded, explicitly: `GET /events`, a stream that stays open for an hour by design (its
/// per-job form `/jobs/{id}/events` is fuzzed). Bounded: 15 examples per operation in the coverage
/// phase, and 90 s in all (schemathesis fuzzes until that time is spent: the test takes about 100 s).
@Suite(.serialized, .enabled(if: IntegrationEnvironment.available))
struct PanelFuzzTests {
    static let checks = "not_a_server_error,status_code_conformance,content_type_conformance,response_schema_conformance"

    @Test func schemathesisFindsNoServerErrorAndEveryAnswerIsDocumented() throws {
        let f = try EngineFixture(tag: "panelfuzz", start: false)
        defer { f.destroy() }
        // Another suite's guest on the same libvirtd: the fuzzer must not reach it.
        let other = try TestGuest(tag: "othersuite", start: false)
        defer { other.destroy() }
        let otherXML = try HostTools.virsh(["dumpxml", "--inactive", other.name])
        let otherDisk = try FileManager.default.attributesOfItem(atPath: other.diskPaths[0])
        let cli = CLI(f), vm = f.guest.name
        for name in ["base", "second"] { #expect(try cli.run(["create", vm, "--name", name]).status == 0) }
        let panel = try PanelProcess(cli)
        defer { panel.stop() }
        #expect(try panel.api("GET", "/vms").body.contains(other.name), "the panel lists the other domain: the hazard this test guards")
        let scratch = f.guest.directory + "/schemathesis"
        try FileManager.default.createDirectory(atPath: scratch, withIntermediateDirectories: true)
        let committed = IntegrationEnvironment.packageRoot + "/docs/openapi.json"
        try Self.pinnedDocument(committed, vm: vm).write(to: URL(fileURLWithPath: scratch + "/openapi.json"))
        try Self.config.write(toFile: scratch + "/schemathesis.toml", atomically: true, encoding: .utf8)
        let seed = UInt32.random(in: 1...UInt32.max)
        let run = try ExternalProcess.run(
            "/usr/bin/python3",
            [
                "-m", "schemathesis.cli", "--config-file", scratch + "/schemathesis.toml", "--no-color", "run",
                scratch + "/openapi.json", "--url", panel.base + "/api/v1",
                "-H", "Authorization: Bearer \(panel.token)", "--checks", Self.checks, "--exclude-operation-id", "events",
                "--phases", "examples,coverage,fuzzing", "--max-examples", "15", "--max-time", "90", "--seed", "\(seed)",
                "--request-timeout", "60", "--workers", "1", "--report", "junit", "--report-junit-path", scratch + "/junit.xml",
            ], timeout: .seconds(170))
        #expect(run.status == 0, "schemathesis (seed \(seed)) found problems:\n\(run.standardOutput)\(run.standardError)")

        // It did test every operation but the excluded one (a run that tested nothing cannot pass).
        let junit = (try? String(contentsOfFile: scratch + "/junit.xml", encoding: .utf8)) ?? ""
        let document = try #require(try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: committed))) as? [String: Any])
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
        // The other domain: same definition (disks), same disk file, no libvirt snapshot, and
        // nothing of it in the fuzzed store or catalog.
        #expect(try HostTools.virsh(["dumpxml", "--inactive", other.name]) == otherXML, "seed \(seed)")
        let disk = try FileManager.default.attributesOfItem(atPath: other.diskPaths[0])
        #expect(disk[.modificationDate] as? Date == otherDisk[.modificationDate] as? Date && disk[.size] as? Int == otherDisk[.size] as? Int)
        #expect(try HostTools.virsh(["snapshot-list", "--name", other.name]).trimmingCharacters(in: .whitespacesAndNewlines).isEmpty)
        let stored = (try? FileManager.default.contentsOfDirectory(atPath: f.storePath + "/vms")) ?? []
        let ownUUID = try f.guest.domain.uuidString.lowercased(), otherUUID = try other.domain.uuidString.lowercased()
        #expect(stored.map { $0.lowercased() } == [ownUUID], "the fuzzed store holds VMs \(stored) (seed \(seed))")
        let listed = try cli.run(["list", other.name, "--json"])
        #expect(listed.status == 0 && (listed.json as? [Any])?.isEmpty == true, "\(listed.status) \(listed.stdout)\(listed.stderr)")
        let locks = (try? FileManager.default.contentsOfDirectory(atPath: f.storePath + "/locks")) ?? []
        #expect(!locks.contains { $0.lowercased().hasPrefix(otherUUID) }, "the fuzzed store locked the other VM: \(locks)")
        #expect(!(try cli.run(["jobs", "--json"]).stdout.contains(other.name)), "a job of the fuzzed catalog named the other VM (seed \(seed))")
    }

    /// The committed document with every parameter that names a VM pinned to `vm` (`enum`).
    static func pinnedDocument(_ path: String, vm: String) throws -> Data {
        var document = try #require(try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: path))) as? [String: Any])
        let pinned: [String: Any] = ["type": "string", "enum": [vm]]
        func pin(_ parameters: Any?) -> Any? {
            guard let parameters = parameters as? [[String: Any]] else { return parameters }
            return parameters.map { parameter in
                guard parameter["name"] as? String == "vm" else { return parameter }
                var parameter = parameter
                parameter["schema"] = pinned
                return parameter
            }
        }
        var paths = try #require(document["paths"] as? [String: [String: Any]])
        for (path, item) in paths {
            var item = item
            item["parameters"] = pin(item["parameters"])
            for (method, operation) in item where method != "parameters" {
                guard var operation = operation as? [String: Any] else { continue }
                operation["parameters"] = pin(operation["parameters"])
                item[method] = operation
            }
            paths[path] = item
        }
        document["paths"] = paths
        return try JSONSerialization.data(withJSONObject: document, options: [.sortedKeys])
    }

    /// No cache (schemathesis would keep one under the working directory, the repository), no
    /// values taken from answers, and the VM's snapshots as the snapshot half the time.
    static var config: String {
        var config = """
            [cache]
            enabled = false
            [dictionaries.snapshots]
            values = ["base", "second"]
            [parameters]
            "path.snapshot" = { dictionary = "snapshots", probability = 0.5 }
            "body.snapshot" = { dictionary = "snapshots", probability = 0.5 }

            """
        for phase in ["examples", "coverage", "fuzzing"] { config += "[phases.\(phase).extra-data-sources]\nresponses = false\n" }
        return config
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
