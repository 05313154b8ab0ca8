import Foundation
import Libvirt
import SnapshotCatalog
import SnapshotEngine
import Testing

extension SSHVaultSuites {
    /// Several hosts, one ssh:// vault: two "hosts" (separate catalogs and stores, so separate host
    /// ids) with VMs cloned from one template image send at the same time while a third runs gc.
    @Suite(.serialized, .enabled(if: IntegrationEnvironment.available && SSHPeer.available))
    struct SSHVaultHostsTests {
        @Test func twoHostsShareOneVaultWhileAThirdCollects() throws {
            try SSHPeer.require()
            let a = try EngineFixture(tag: "ssha", diskMiB: [64, 64], start: false)
            defer { a.destroy() }
            let b = try EngineFixture(tag: "sshb", diskMiB: [64, 64], start: false)
            defer { b.destroy() }
            let path = SSHPeer.vaultPath("shared")
            let clone = a.guest.name + "-onb"
            defer {
                removeDomain(b.guest, named: clone)
                try? FileManager.default.removeItem(atPath: path)
            }
            // The template: 32 MiB of random data at the start of vdb, the same in both VMs.
            let template = a.guest.directory + "/template.raw"
            _ = try TestGuest.run("dd", ["if=/dev/urandom", "of=\(template)", "bs=1M", "count=32", "status=none"])
            _ = try TestGuest.run("truncate", ["-s", "64M", template])
            for fx in [a, b] {
                _ = try TestGuest.run("qemu-img", ["convert", "-q", "-f", "raw", "-O", "qcow2", template, fx.guest.directory + "/vdb.qcow2"])
                try fx.guest.domain.start()
                try fx.guest.waitForCounter(atLeast: 2)
            }
            let cliA = CLI(a), cliB = CLI(b)
            let cliC = CLI(catalog: a.guest.directory + "/third.sqlite", store: a.guest.directory + "/third-store")
            let location = SSHPeer.location(path)
            for cli in [cliA, cliB, cliC] { try expectOK(cli.run(["vault", "add", "v", location])) }
            let snapA = try a.snapshot("t1", diskOnly: true), snapB = try b.snapshot("t1", diskOnly: true)
            let digestA = try contentDigest(try a.frozenLayerPath(snapA.record.id, disk: "vdb"), scratch: a.guest.directory)

            // Both hosts send at once; the third runs gc (grace 0) over and over meanwhile.
            let sends = DispatchGroup()
            nonisolated(unsafe) var results: [String: CLI.Result] = [:]
            let lock = NSLock()
            for (name, cli, vm) in [("a", cliA, a.guest.name), ("b", cliB, b.guest.name)] {
                sends.enter()
                Thread.detachNewThread {
                    let r = try? cli.run(["send", vm, "t1", "--to", "v", "--json"])
                    lock.lock(); results[name] = r; lock.unlock()
                    sends.leave()
                }
            }
            var gcRuns = 0
            while sends.wait(timeout: .now()) == .timedOut {
                let gc = try cliC.run(["vault", "gc", "v", "--grace", "0", "--json"])
                #expect(gc.status == 0, "gc during the sends: \(gc.stderr)")
                gcRuns += 1
            }
            let ra = try #require(results["a"]), rb = try #require(results["b"])
            try #require(ra.status == 0 && rb.status == 0, "\(ra.stderr)\(rb.stderr)")
            let verify = try cliC.run(["vault", "verify", "v", "--read-data", "--json"])
            #expect(verify.status == 0 && (verify.json as? [String: Any])?["ok"] as? Bool == true, "after \(gcRuns) gc runs: \(verify.stdout)")

            // Every host's VMs, with their host ids.
            let listed = try #require(try cliC.run(["vault", "snapshots", "v", "--json"]).json as? [[String: Any]])
            let ids = Set(listed.compactMap { $0["hostID"] as? String })
            let expected = try Set(
                [a, b].map { try String(contentsOfFile: $0.storePath + "/host-id", encoding: .utf8).trimmingCharacters(in: .whitespacesAndNewlines) })
            #expect(ids == expected && ids.count == 2, "\(listed)")
            #expect(Set(listed.compactMap { $0["vm"] as? String }) == [a.guest.name, b.guest.name])
            let table = try cliC.run(["vault", "snapshots", "v"]).stdout
            #expect(expected.allSatisfy { table.contains(String($0.prefix(8))) }, "\(table)")

            // The template is stored once: together the two sends stored little more than one copy.
            let storedA = (ra.json as? [String: Any])?["bytesStored"] as? Int64 ?? -1
            let storedB = (rb.json as? [String: Any])?["bytesStored"] as? Int64 ?? -1
            print(
                "ssh vault: two VMs from one 32 MiB template: host A stored \(storedA) B, host B \(storedB) B, "
                    + "together \(storedA + storedB) B (\(gcRuns) gc runs meanwhile)"
            )
            #expect(storedA >= 0 && storedB >= 0 && storedA + storedB < 44 << 20, "without sharing the two sends store at least 64 MiB")

            // Host B restores what host A sent (as a new VM: A's still runs): it boots from A's disks.
            let restored = try cliB.run(["restore", "--from-vault", "v", a.guest.name, "t1", "--as", clone])
            try #require(restored.status == 0, "\(restored.stderr)")
            let cloneLog = (a.guest.consoleLog as NSString).deletingPathExtension + "-\(clone).log"
            let diskCounter = try #require(snapA.diskCounter)
            #expect(HostTools.wait(timeout: 60) { TestGuest.counters(inLog: cloneLog).first != nil })
            #expect(TestGuest.counters(inLog: cloneLog).first == diskCounter + 1, "A's VM on host B booted at \(TestGuest.counters(inLog: cloneLog))")
            let layer = try Catalog(path: cliB.catalog).read { db -> String? in
                guard let vm = try db.vm(named: clone), let snap = try db.snapshot(vmUUID: vm.uuid, name: "t1") else { return nil }
                return try db.disks(ofSnapshot: snap.id).first { $0.diskTarget == "vdb" }.flatMap { try db.layer(id: $0.layerID)?.path }
            }
            #expect(try contentDigest(try #require(layer), scratch: b.guest.directory) == digestA)
            _ = snapB
        }
    }
}
