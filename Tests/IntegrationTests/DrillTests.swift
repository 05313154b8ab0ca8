import Foundation
import Libvirt
import SnapshotCatalog
import SnapshotEngine
import Testing

/// Restore drills (issue 15) against the real test guest, booted once for the suite: a passing
/// drill, failing checks (removed, or kept with --keep-on-failure and inspected for isolation),
/// and a drill killed mid-way that the next command cleans up. The source VM has a display (for
/// the screenshot) and a NIC with an address (`kvmsnap.ip`) on a "production" libvirt network
/// whose bridge has a host address: the source reaches the host there, a clone must not
/// (DrillTests+Isolation.swift proves it from inside both guests).
@Suite(.serialized, .enabled(if: IntegrationEnvironment.available))
struct DrillTests {
    /// The guest, its "production" network (a transient libvirt network and its bridge, both
    /// named `bridge`), the host's address on it and the guest's.
    struct Setup {
        var fixture: EngineFixture
        var bridge: String
        var hostAddress: String
        var guestAddress: String
        var cli: CLI { CLI(fixture) }
        var vm: String { fixture.guest.name }

        func destroy() {
            // A kept or leaked clone goes too: domains and networks named after this guest.
            for name in (try? DrillTests.domainNames()) ?? [] where name.hasPrefix("drill-\(vm)") {
                _ = try? TestGuest.run("virsh", ["-c", IntegrationEnvironment.uri, "destroy", name])
                _ = try? TestGuest.run("virsh", ["-c", IntegrationEnvironment.uri, "undefine", name, "--nvram"])
            }
            fixture.destroy()
            DrillTests.destroyNetwork(bridge)
        }
    }

    static func domainNames() throws -> [String] {
        try TestGuest.run("virsh", ["-c", IntegrationEnvironment.uri, "list", "--all", "--name"]).split(separator: "\n").map(String.init)
    }

    static func networkNames() throws -> [String] {
        try TestGuest.run("virsh", ["-c", IntegrationEnvironment.uri, "net-list", "--all", "--name"]).split(separator: "\n").map(String.init)
    }

    /// A transient isolated libvirt network `name` (bridge `name`) with the host address
    /// 10.231.N.1/24, no DHCP or DNS; N is random, another one is tried when the subnet is taken.
    /// Returns N.
    static func createProductionNetwork(_ name: String) throws -> Int {
        let connection = try Connection(uri: IntegrationEnvironment.uri)
        var failures: [String] = []
        for _ in 0..<5 {
            let subnet = Int.random(in: 1...250)
            let xml = """
                <network><name>\(name)</name><bridge name='\(name)'/><dns enable='no'/>\
                <ip address='10.231.\(subnet).1' prefix='24'/></network>
                """
            do throws(LibvirtError) {
                _ = try connection.createTransientNetwork(xml: xml)
                return subnet
            } catch {
                failures.append(error.message)
            }
        }
        throw TestGuestError("cannot create the production network \(name): \(failures)")
    }

    static func destroyNetwork(_ name: String) {
        _ = try? TestGuest.run("virsh", ["-c", IntegrationEnvironment.uri, "net-destroy", name])
    }

    /// Boots the test guest with a VGA display and a virtio NIC (address 10.231.N.2/24) on a new
    /// "production" network whose bridge has the host address 10.231.N.1 (the LAN a clone must
    /// not reach), and takes snapshot `s1`.
    static func boot() throws -> Setup {
        let id = String(UUID().uuidString.prefix(6)).lowercased()
        let bridge = "kvgt-\(id)"
        let subnet = try createProductionNetwork(bridge)
        let fixture: EngineFixture
        do {
            fixture = try EngineFixture(tag: "drill", cmdline: "kvmsnap.ip=10.231.\(subnet).2/24", start: false)
        } catch {
            destroyNetwork(bridge)
            throw error
        }
        let setup = Setup(fixture: fixture, bridge: bridge, hostAddress: "10.231.\(subnet).1", guestAddress: "10.231.\(subnet).2")
        do {
            let g = fixture.guest
            let devices = """
                <interface type='network'><source network='\(setup.bridge)'/><model type='virtio'/></interface>
                <video><model type='vga'/></video>
                </devices>
                """
            // A kernel of the guest's own, so that a drill of a guest that cannot boot (its kernel
            // gone) can be shown without touching the shared guest directory.
            try FileManager.default.copyItem(atPath: IntegrationEnvironment.guestDirectory + "/vmlinuz", toPath: g.directory + "/vmlinuz")
            let xml = try g.domain.xml().replacingOccurrences(of: "</devices>", with: devices)
                .replacingOccurrences(of: IntegrationEnvironment.guestDirectory + "/vmlinuz", with: g.directory + "/vmlinuz")
            _ = try g.connection.defineDomain(xml: xml)
            try g.refresh()
            try g.domain.start()
            try g.waitForCounter(atLeast: 2)
            try g.waitForAgent()
            try fixture.snapshot("s1")
        } catch {
            setup.destroy()
            throw error
        }
        return setup
    }

    @Test func drillsPassFailAndLeaveNothingBehind() throws {
        let s = try Self.boot()
        defer { s.destroy() }
        try passingDrill(s)
        try cloneCannotReachTheProductionNetwork(s)
        try drillFromVault(s)
        try failingDrillKeptIsIsolated(s)
        try failingDrillIsRemoved(s)
        try closedPortFails(s)
        try killedDrillIsCleanedUpByTheNextCommand(s)
        try guestWithoutKernelFails(s)
        try runDueDrillsOncePerSlot(s)
        try refusedDrillChangesNothing(s)
        try s.cli.expectCheckPasses(s.vm, "after the drills")
    }

    /// A snapshot that does not exist, or a bad pattern: refused before any job or clone.
    func refusedDrillChangesNothing(_ s: Setup) throws {
        let jobs = try s.fixture.engine.jobs(vm: s.vm).count
        let missing = try s.cli.run(["drill", s.vm, "nope"])
        #expect(missing.status == 2 && missing.stderr.contains("no snapshot named 'nope'"), "\(missing.stderr)")
        let badPattern = try s.cli.run(["drill", s.vm, "--latest", "--check-console", "("])
        #expect(badPattern.status == 64, "\(badPattern.stderr)")
        let both = try s.cli.run(["drill", s.vm, "s1", "--latest"])
        #expect(both.status == 64 && both.stderr.contains("either SNAP or --latest"), "\(both.stderr)")
        #expect(try s.fixture.engine.jobs(vm: s.vm).count == jobs)
        try expectNothingLeft(s, clone: "drill-\(s.vm)-none")
    }

    /// Every check passes; the report, screenshot and metrics are there; nothing is left; the
    /// source VM kept counting on its own disks.
    func passingDrill(_ s: Setup) throws {
        let g = s.fixture.guest
        let source = try g.currentSource()
        let before = try g.waitUntilStillCounting()
        let script = s.fixture.guest.directory + "/check.sh"
        let line = "clone=$1 env=$KVMSNAP_DRILL_CLONE vm=$KVMSNAP_DRILL_VM address=$2 env=$KVMSNAP_DRILL_ADDRESS"
        try "#!/bin/sh\necho \"\(line)\" > \(g.directory)/script.out\n".write(
            toFile: script, atomically: true, encoding: .utf8)
        chmod(script, 0o755)
        // s1 is pinned until verified (as guard pins its snapshot); a passing drill verifies it.
        try s.fixture.engine.edit(vm: s.vm, snapshot: "s1", description: nil, expiresAt: nil, pinned: true)
        let result = try s.cli.run([
            "drill", s.vm, "s1", "--mark-verified", "--check-agent", "--check-console", "kvmsnap-guest ready", "--check-cmd", "test -d /proc/1",
            "--check-script", script, "--timeout", "3min", "--json",
        ])
        #expect(result.status == 0, "\(result.stdout) \(result.stderr)")
        let report = try #require(result.json as? [String: Any], "\(result.stdout)")
        #expect(report["vm"] as? String == s.vm)
        #expect(report["snapshot"] as? String == "s1")
        let clone = try #require(report["clone"] as? String)
        #expect(clone.hasPrefix("drill-\(s.vm)-"))
        #expect(report["passed"] as? Bool == true)
        let recovery = try #require(report["recoverySeconds"] as? Double)
        let checks = try #require(report["checks"] as? [[String: Any]])
        #expect(checks.map { $0["name"] as? String } == ["running", "agent", "console", "command", "script"])
        #expect(checks.allSatisfy { $0["passed"] as? Bool == true && $0["seconds"] is Double && $0["detail"] is String }, "\(checks)")
        let total = checks.compactMap { $0["seconds"] as? Double }.reduce(0, +)
        #expect(recovery >= total && recovery < 180, "recovery \(recovery), checks \(total)")
        // The screenshot is a PNG of the VGA text console (720x400).
        let screenshot = try #require(report["screenshot"] as? String, "\(result.stderr)")
        let png = try #require(FileManager.default.contents(atPath: screenshot))
        #expect(Array(png.prefix(8)) == [0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A])
        let width = png[16..<20].reduce(0) { $0 << 8 | Int($1) }, height = png[20..<24].reduce(0) { $0 << 8 | Int($1) }
        #expect(width >= 640 && height >= 400, "\(width)x\(height)")
        // The script got the clone's name as argument and in its environment...
        let scriptOut = try String(contentsOfFile: g.directory + "/script.out", encoding: .utf8)
        // ... and the clone's address on its isolated network (its NIC came up as on the source).
        #expect(scriptOut.contains("clone=\(clone) env=\(clone) vm=\(s.vm) address=\(s.guestAddress) env=\(s.guestAddress)"), "\(scriptOut)")
        try expectNothingLeft(s, clone: clone)
        #expect(report["markedVerified"] as? Bool == true)
        let s1 = try s.fixture.engine.snapshot(vm: s.vm, name: "s1").record
        #expect(!s1.pinned && (s1.expiresAt?.timeIntervalSinceNow ?? 0) > 13 * 86_400, "\(s1)")
        // The source VM was not touched and still counts on its own disk.
        #expect(try g.currentSource() == source)
        let after = try g.waitUntilStillCounting()
        #expect(after > before)
        // The report is in the catalog and in the metrics.
        let listed = try s.cli.run(["drill", "report", s.vm, "--json"])
        let reports = try #require(listed.json as? [[String: Any]], "\(listed.stdout) \(listed.stderr)")
        #expect(reports.first?["clone"] as? String == clone && reports.first?["passed"] as? Bool == true)
        let text = try s.cli.run(["drill", "report"])
        #expect(text.stdout.contains("passed") && text.stdout.contains(s.vm), "\(text.stdout)")
        let metricsFile = g.directory + "/metrics.prom"
        #expect(try s.cli.run(["run-due", "--metrics-textfile", metricsFile]).status == 0)
        let metrics = try String(contentsOfFile: metricsFile, encoding: .utf8)
        #expect(metrics.contains("kvmsnap_drill_last_success_timestamp_seconds{vm=\"\(s.vm)\""), "\(metrics)")
        #expect(metrics.contains("kvmsnap_drill_recovery_seconds{vm=\"\(s.vm)\""), "\(metrics)")
    }

    /// `--from-vault`: the clone's disks are rebuilt from the vault into its directory; the
    /// drill passes and nothing stays (the rebuilt disks neither). `--latest --from-vault`
    /// drills the VM's newest snapshot in the vault.
    func drillFromVault(_ s: Setup) throws {
        let vault = s.fixture.guest.directory + "/vault"
        #expect(try s.cli.run(["vault", "add", "v", vault]).status == 0)
        let sent = try s.cli.run(["send", s.vm, "s1", "--to", "v"])
        #expect(sent.status == 0, "\(sent.stderr)")
        let result = try s.cli.run([
            "drill", s.vm, "s1", "--from-vault", "v", "--check-agent", "--check-console", "kvmsnap-guest ready", "--timeout", "3min", "--json",
        ])
        #expect(result.status == 0, "\(result.stdout) \(result.stderr)")
        let report = try #require(result.json as? [String: Any], "\(result.stdout)")
        #expect(report["passed"] as? Bool == true && report["vault"] as? String == "v" && report["snapshot"] as? String == "s1", "\(report)")
        try expectNothingLeft(s, clone: try #require(report["clone"] as? String))
        // --latest with --from-vault: the VM's newest snapshot in that vault, chosen from the vault's manifests.
        let latest = try s.cli.run(["drill", s.vm, "--latest", "--from-vault", "v", "--timeout", "3min", "--json"])
        #expect(latest.status == 0, "\(latest.stdout) \(latest.stderr)")
        let latestReport = try #require(latest.json as? [String: Any], "\(latest.stdout)")
        #expect(latestReport["snapshot"] as? String == "s1" && latestReport["vault"] as? String == "v", "\(latestReport)")
        try expectNothingLeft(s, clone: try #require(latestReport["clone"] as? String))
        let none = try s.cli.run(["drill", "no-such-vm", "--latest", "--from-vault", "v"])
        #expect(none.status != 0 && none.stderr.contains("holds no snapshot of 'no-such-vm'"), "\(none.stderr)")
    }

    /// A console pattern that never appears fails the drill; with --keep-on-failure the clone
    /// stays, and it is isolated: its only NIC is on a kvmsnap network without <forward> or
    /// <ip>, with a new MAC, never on the production bridge, whose host address it cannot reach.
    func failingDrillKeptIsIsolated(_ s: Setup) throws {
        let result = try s.cli.run([
            "drill", s.vm, "--latest", "--check-console", "never-printed-\(UUID().uuidString)", "--timeout", "20s", "--keep-on-failure",
            "--json",
        ])
        #expect(result.status == 1, "\(result.stdout) \(result.stderr)")
        let report = try #require(result.json as? [String: Any], "\(result.stdout)")
        #expect(report["passed"] as? Bool == false)
        #expect(report["recoverySeconds"] is NSNull)
        let checks = try #require(report["checks"] as? [[String: Any]])
        #expect(checks.last?["name"] as? String == "console" && checks.last?["passed"] as? Bool == false, "\(checks)")
        let clone = try #require(report["clone"] as? String)
        let conn = s.fixture.guest.connection
        let domain = try conn.lookupDomain(name: clone)
        let cloneDirectory = s.fixture.storePath + "/vms/" + (try domain.uuidString)
        #expect(FileManager.default.fileExists(atPath: cloneDirectory))
        defer {
            // What a user does with a kept clone (the drill's text output says so).
            try? domain.destroy()
            try? domain.undefine(flags: [.nvram])
            try? FileManager.default.removeItem(atPath: cloneDirectory)
        }
        let xml = try domain.xml()
        let sourceXML = try s.fixture.guest.domain.xml()
        #expect(!xml.contains(s.bridge), "the clone is on the production bridge: \(xml)")
        let network = try #require(xml.firstMatch(of: /<source network='(kvmsnap-drill-[0-9a-f]+)'/)?.1, "\(xml)")
        let mac = try #require(xml.firstMatch(of: /<mac address='([0-9a-f:]+)'/)?.1)
        #expect(!sourceXML.contains(String(mac)), "the clone kept the source's MAC \(mac)")
        let net = try conn.lookupNetwork(name: String(network))
        defer { try? net.destroy() }
        let netXML = try net.xml()
        #expect(!netXML.contains("<forward") && !netXML.contains("<ip"), "\(netXML)")
        // The clone's bridge has no host address, and is not the production bridge.
        let bridge = try #require(netXML.firstMatch(of: /<bridge name='([^']+)'/)?.1)
        let addresses = try TestGuest.run("ip", ["-o", "addr", "show", "dev", String(bridge)])
        #expect(!addresses.contains("inet "), "\(addresses)")
        let members = try TestGuest.run("ip", ["-o", "link", "show", "master", s.bridge])
        let tap = try #require(xml.firstMatch(of: /<interface type='network'>[\s\S]*?<target dev='([^']+)'/)?.1, "\(xml)")
        #expect(!members.contains(String(tap)), "\(members)")
        let onDrillBridge = try TestGuest.run("ip", ["-o", "link", "show", "master", String(bridge)])
        #expect(onDrillBridge.contains(String(tap)), "\(onDrillBridge)")
    }

    /// A failing drill without --keep-on-failure: exit 1, and the clone, its network and its
    /// files are gone.
    func failingDrillIsRemoved(_ s: Setup) throws {
        // A drill-failed rule: the failing drill's alert reaches a real webhook receiver, once.
        let http = try NotifyReceiver.shared("http", scratch: s.fixture.guest.directory)
        defer { http.stop() }
        let tag = String(UUID().uuidString.prefix(8)).lowercased()
        #expect(try s.cli.run(["notify", "add", "drillhook", "--webhook", "http://\(http.address)/\(tag)/drill"]).status == 0)
        #expect(try s.cli.run(["notify", "rule", "add", "drillhook", "--on", "drill-failed"]).status == 0)
        defer { _ = try? s.cli.run(["notify", "remove", "drillhook"]) }
        let result = try s.cli.run(["drill", s.vm, "s1", "--check-cmd", "exit 3", "--timeout", "2min", "--json"])
        let posts = http.requests(pathPrefix: "/\(tag)/drill")
        let payload = (posts.first?["body"] as? String).flatMap { try? JSONSerialization.jsonObject(with: Data($0.utf8)) } as? [String: Any]
        #expect(posts.count == 1 && payload?["event"] as? String == "drill-failed" && payload?["vm"] as? String == s.vm, "\(posts)")
        #expect(result.status == 1, "\(result.stdout) \(result.stderr)")
        let report = try #require(result.json as? [String: Any], "\(result.stdout)")
        let checks = try #require(report["checks"] as? [[String: Any]])
        #expect(checks.last?["name"] as? String == "command" && (checks.last?["detail"] as? String)?.hasPrefix("exit 3") == true, "\(checks)")
        try expectNothingLeft(s, clone: try #require(report["clone"] as? String))
        let job = try s.fixture.lastJob("drill")
        #expect(job?.state == .failed && job?.error?.contains("drill check 'command' failed") == true, "\(String(describing: job))")
    }

    /// A port nothing listens on (read from the guest's /proc/net/tcp through the agent) fails
    /// once the timeout passed; the checks after it are skipped.
    func closedPortFails(_ s: Setup) throws {
        let result = try s.cli.run(["drill", s.vm, "s1", "--check-port", "9", "--check-cmd", "true", "--timeout", "25s", "--json"])
        #expect(result.status == 1, "\(result.stdout) \(result.stderr)")
        let report = try #require(result.json as? [String: Any], "\(result.stdout)")
        let checks = try #require(report["checks"] as? [[String: Any]])
        #expect(checks.map { $0["name"] as? String } == ["running", "port", "command"])
        #expect(checks[1]["detail"] as? String == "nothing listens on TCP port 9 in the guest", "\(checks)")
        #expect((checks[2]["detail"] as? String)?.hasPrefix("skipped") == true, "\(checks)")
        try expectNothingLeft(s, clone: try #require(report["clone"] as? String))
    }

    /// SIGKILL once the clone runs: the next command on the VM removes the clone, its network
    /// and its overlays, and marks the job failed.
    func killedDrillIsCleanedUpByTheNextCommand(_ s: Setup) throws {
        let marker = s.fixture.guest.directory + "/drill-stalled"
        try s.cli.killAt("drill.cloneStarted", ["drill", s.vm, "s1"], marker: marker)
        let leftover = try Self.domainNames().filter { $0.hasPrefix("drill-\(s.vm)-") }
        #expect(leftover.count == 1, "the killed drill's clone should still be there: \(leftover)")
        #expect(try Self.networkNames().contains { $0.hasPrefix("kvmsnap-drill-") })
        let list = try s.cli.run(["list", s.vm])
        #expect(list.status == 0, "\(list.stderr)")
        try expectNothingLeft(s, clone: try #require(leftover.first))
        let job = try s.fixture.lastJob("drill")
        #expect(job?.state == .failed && job?.error?.contains("drill clone") == true, "\(String(describing: job))")
    }

    /// A guest that cannot boot (its kernel file is gone): the drill fails at "running", the
    /// drill-failed alert reaches the receiver, and nothing is left behind.
    func guestWithoutKernelFails(_ s: Setup) throws {
        let kernel = s.fixture.guest.directory + "/vmlinuz"
        try FileManager.default.moveItem(atPath: kernel, toPath: kernel + ".away")
        defer { try? FileManager.default.moveItem(atPath: kernel + ".away", toPath: kernel) }
        let http = try NotifyReceiver.shared("http", scratch: s.fixture.guest.directory)
        defer { http.stop() }
        let tag = String(UUID().uuidString.prefix(8)).lowercased()
        #expect(try s.cli.run(["notify", "add", "nokernel", "--webhook", "http://\(http.address)/\(tag)/k"]).status == 0)
        #expect(try s.cli.run(["notify", "rule", "add", "nokernel", "--on", "drill-failed"]).status == 0)
        defer { _ = try? s.cli.run(["notify", "remove", "nokernel"]) }
        let before = try Self.domainNames().filter { $0.hasPrefix("drill-\(s.vm)-") }
        let result = try s.cli.run(["drill", s.vm, "s1", "--check-console", "kvmsnap-guest ready", "--timeout", "1min", "--json"])
        #expect(result.status == 1, "\(result.stdout) \(result.stderr)")
        let report = try #require(result.json as? [String: Any], "\(result.stdout) \(result.stderr)")
        #expect(report["passed"] as? Bool == false)
        let checks = try #require(report["checks"] as? [[String: Any]], "\(report)")
        #expect(checks.first?["name"] as? String == "running" && checks.first?["passed"] as? Bool == false, "\(checks)")
        #expect(try Self.domainNames().filter { $0.hasPrefix("drill-\(s.vm)-") } == before)
        if let clone = report["clone"] as? String { try expectNothingLeft(s, clone: clone) }
        let posts = http.requests(pathPrefix: "/\(tag)/k")
        let payload = (posts.first?["body"] as? String).flatMap { try? JSONSerialization.jsonObject(with: Data($0.utf8)) } as? [String: Any]
        #expect(posts.count == 1 && payload?["event"] as? String == "drill-failed", "\(posts)")
    }

    /// `policy set --drill CRON`: run-due drills the newest snapshot once per drill slot (the
    /// agent is checked, the test guest has one) and not again within the same slot.
    func runDueDrillsOncePerSlot(_ s: Setup) throws {
        let before = try s.fixture.engine.drillReports(vm: s.vm).count
        let set = try s.cli.run(["policy", "set", s.vm, "--keep-last", "10", "--schedule", "0 3 * * *", "--drill", "0 4 1 * *"])
        #expect(set.status == 0, "\(set.stderr)")
        let first = try s.cli.run(["run-due", "--now", "2030-02-01T05:00:00Z", "--json"])
        #expect(first.status == 0, "\(first.stdout) \(first.stderr)")
        let runs = try #require(first.json as? [[String: Any]], "\(first.stdout)")
        let drill = try #require(runs.first?["drill"] as? [String: Any], "\(runs)")
        #expect(drill["outcome"] as? String == "drilled", "\(drill)")
        let report = try #require(drill["report"] as? [String: Any])
        #expect(report["passed"] as? Bool == true, "\(report)")
        let checks = try #require(report["checks"] as? [[String: Any]])
        #expect(checks.map { $0["name"] as? String } == ["running", "agent"])
        // run-due's snapshot of the same run is the newest, so that is the one drilled.
        #expect(report["snapshot"] as? String == runs.first?["snapshot"] as? String)
        try expectNothingLeft(s, clone: try #require(report["clone"] as? String))
        let again = try s.cli.run(["run-due", "--now", "2030-02-01T05:30:00Z", "--json"])
        let drillAgain = try #require((again.json as? [[String: Any]])?.first?["drill"] as? [String: Any], "\(again.stdout)")
        #expect(drillAgain["outcome"] as? String == "up-to-date")
        #expect(try s.fixture.engine.drillReports(vm: s.vm).count == before + 1)
        let refused = try s.cli.run(["policy", "set", s.vm, "--keep-last", "10", "--drill", "0 4 1 * *"])
        #expect(refused.status == 64 && refused.stderr.contains("--drill needs --schedule"), "\(refused.stderr)")
    }

    /// No domain, network or store directory of the clone is left.
    func expectNothingLeft(_ s: Setup, clone: String, sourceLocation: SourceLocation = #_sourceLocation) throws {
        #expect(try !Self.domainNames().contains(clone), "clone \(clone) left", sourceLocation: sourceLocation)
        // Only drills make kvmsnap-drill-* networks, and this suite runs one drill at a time.
        let networks = try Self.networkNames().filter { $0.hasPrefix("kvmsnap-drill-") }
        #expect(networks.isEmpty, "networks left: \(networks)", sourceLocation: sourceLocation)
        let vms = filesUnder(s.fixture.storePath + "/vms").filter { !$0.contains("/") }
        let uuid = try s.fixture.engine.catalogVM(s.vm).uuid
        #expect(vms == [uuid], "store has other VM directories: \(vms)", sourceLocation: sourceLocation)
    }
}
