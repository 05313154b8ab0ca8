import Foundation
import Libvirt
import SnapshotCatalog
import SnapshotEngine
import Testing

extension SSHVaultSuites {
    /// An ssh:// vault with the real test guest: the disaster recovery round trip of a local vault,
    /// an append-only sender, a send killed and resumed, the network cut under a send.
    @Suite(.serialized, .enabled(if: IntegrationEnvironment.available && SSHPeer.available))
    struct SSHVaultGuestTests {
        /// Three sends over ssh; the host dies (VM, images, catalog, store gone); a fresh catalog
        /// and store restore s2 from the remote vault: the guest's counter and both disks prove it.
        @Test func aDeadHostIsRestoredFromAnSSHVault() throws {
            try SSHPeer.require()
            let f = try EngineFixture(tag: "sshdr", diskMiB: [64, 64])
            let path = SSHPeer.vaultPath("dr")
            defer {
                f.destroy()
                try? FileManager.default.removeItem(atPath: path)
            }
            let g = f.guest, cli = CLI(f), location = SSHPeer.location(path)
            try expectOK(cli.run(["vault", "add", "v", location]))
            var counters: [String: Int] = [:], digests: [String: [String]] = [:]
            try g.waitForCounter(atLeast: 2)
            for (index, name) in ["s1", "s2", "s3"].enumerated() {
                if index > 0 { try guestWrite(g, mib: index == 1 ? 24 : 8, tag: "w\(index)") }
                _ = try g.waitUntilStillCounting()
                let snap = try f.snapshot(name)
                counters[name] = snap.diskCounter
                digests[name] = try ["vda", "vdb"].map { try contentDigest(try f.frozenLayerPath(snap.record.id, disk: $0), scratch: g.directory) }
                let sent = try cli.run(["send", g.name, name, "--to", "v", "--json"])
                try #require(sent.status == 0, "\(sent.stderr)")
                let r = sent.json as? [String: Any] ?? [:]
                print("ssh vault: send \(name): read \(r["bytesRead"] ?? "?") B, stored \(r["bytesStored"] ?? "?") B in \(r["seconds"] ?? "?") s")
            }
            let before = try g.waitUntilStillCounting()
            // The host dies.
            removeDomain(g, named: g.name)
            for disk in g.diskPaths { unlink(disk) }
            for suffix in ["", "-wal", "-shm"] { unlink(f.catalogPath + suffix) }
            try? FileManager.default.removeItem(atPath: f.storePath)
            // A new host: fresh catalog and store, the same remote vault.
            let host = CLI(catalog: g.directory + "/new.sqlite", store: g.directory + "/new-store")
            try expectOK(host.run(["vault", "add", "v", location]))
            let listed = try #require(try host.run(["vault", "snapshots", "v", "--json"]).json as? [[String: Any]])
            #expect(listed.map { $0["snapshot"] as? String } == ["s1", "s2", "s3"])
            let restored = try host.run(["restore", "--from-vault", "v", g.name, "s2", "--json"])
            try #require(restored.status == 0, "\(restored.stderr)")
            try g.refresh()
            #expect(g.isRunning)
            let s2 = try #require(counters["s2"])
            let first = try g.waitForFirstCounter()
            #expect(first >= s2 && first <= s2 + 2 && first < before, "resumed at \(first); s2's disk held \(s2)")
            let layers = try Catalog(path: host.catalog).read { db -> [String: String] in
                guard let vm = try db.vm(named: g.name), let snap = try db.snapshot(vmUUID: vm.uuid, name: "s2") else { return [:] }
                var out: [String: String] = [:]
                for disk in try db.disks(ofSnapshot: snap.id) { out[disk.diskTarget] = try db.layer(id: disk.layerID)?.path }
                return out
            }
            #expect(try ["vda", "vdb"].map { try contentDigest(try #require(layers[$0]), scratch: g.directory) } == digests["s2"])
        }

        /// One guest: an append-only key sends and cannot prune or gc; a send SIGKILLed mid-way
        /// resumes reading only what is missing (its dead mark expires); the network cut under a
        /// send fails it clearly and the next send resumes.
        @Test func appendOnlyKilledSendAndCutNetwork() throws {
            try SSHPeer.require()
            let f = try EngineFixture(tag: "sshao", diskMiB: [64, 64])
            let paths = [SSHPeer.vaultPath("append"), SSHPeer.vaultPath("kill"), SSHPeer.vaultPath("cut")]
            defer {
                try? SSHPeer.link(up: true)
                f.destroy()
                for p in paths { try? FileManager.default.removeItem(atPath: p) }
            }
            let cli = CLI(f), vm = f.guest.name, dir = f.guest.directory
            let started = ContinuousClock.now
            func phase(_ name: String) { print("ssh vault: \(name) done at \(ContinuousClock.now - started)") }
            try f.guest.waitForCounter(atLeast: 1)
            try f.guest.guestWrite(mib: 48, tag: "w48")
            try expectOK(cli.run(["create", vm, "--name", "k1"]))

            // Append-only: the forced command serves vaults/append whatever path the client asks for.
            let ao = SSHPeer.environment("_append")
            try expectOK(cli.run(["vault", "add", "ao", SSHPeer.location(paths[0])], environment: ao))
            let full = try cli.run(["send", vm, "k1", "--to", "ao", "--json"], environment: ao)
            try #require(full.status == 0, "append-only send: \(full.stderr)")
            let fullRead = try #require((full.json as? [String: Any])?["bytesRead"] as? Int64)
            try f.guest.guestWrite(mib: 4, tag: "w4")
            try expectOK(cli.run(["create", vm, "--name", "k2"]))
            try expectOK(cli.run(["send", vm, "k2", "--to", "ao"], environment: ao))
            let prune = try cli.run(["vault", "prune", "ao", "--keep-last", "1"], environment: ao)
            #expect(prune.status != 0 && prune.stderr.contains("append-only") && prune.stderr.contains("snapshots/"), "\(prune.stderr)")
            let gc = try cli.run(["vault", "gc", "ao", "--grace", "0"], environment: ao)
            #expect(gc.status != 0 && gc.stderr.contains("append-only") && gc.stderr.contains("ssh://"), "\(gc.stderr)")
            #expect((try cli.run(["vault", "snapshots", "ao", "--json"], environment: ao).json as? [Any])?.count == 2, "nothing was deleted")
            phase("append-only")
            // A trusted host (the full key) prunes and collects.
            try expectOK(cli.run(["vault", "add", "trusted", SSHPeer.location(paths[0])]))
            try expectOK(cli.run(["vault", "prune", "trusted", "--keep-last", "1"]))
            try expectOK(cli.run(["vault", "gc", "trusted", "--grace", "0"]))
            try expectOK(cli.run(["vault", "verify", "trusted", "--read-data"]))

            phase("trusted prune and gc")
            // A send SIGKILLed halfway; its mark defers gc until it expires; the resumed send reads less.
            try expectOK(cli.run(["vault", "add", "kill", SSHPeer.location(paths[1])]))
            try cli.killAt("send.diskHalf", ["send", vm, "k1", "--to", "kill"], marker: dir + "/kill.stalled")
            let deferred = try #require(try cli.run(["vault", "gc", "kill", "--grace", "1h", "--json"]).json as? [String: Any])
            #expect((deferred["deferredBy"] as? [Any])?.isEmpty == false, "the dead sender's mark is still live: \(deferred)")
            try ageMarks(paths[1] + "/marks", by: 11 * 60)
            FileManager.default.createFile(atPath: paths[1] + "/marks/gc-killed", contents: Data("gc\n".utf8))
            try ageMarks(paths[1] + "/marks", by: 11 * 60)
            let expired = try #require(try cli.run(["vault", "gc", "kill", "--grace", "1h", "--json"]).json as? [String: Any])
            #expect((expired["deferredBy"] as? [Any])?.isEmpty == true, "an expired mark blocks nothing: \(expired)")
            phase("kill")
            let resumed = try cli.run(["send", vm, "k1", "--to", "kill", "--json"], timeout: 120)
            try #require(resumed.status == 0, "\(resumed.stderr)")
            let report = try #require(resumed.json as? [String: Any])
            let read = report["bytesRead"] as? Int64 ?? -1
            print("ssh vault: send killed halfway, resumed read \(read) B of \(fullRead) B")
            #expect(report["resumed"] as? Bool == true)
            // Over ssh the checkpoint trails reading by up to the store pipeline's depth (chunks read
            // but not yet stored remotely), so the saving varies; it is never nothing.
            #expect(read >= 0 && read < fullRead, "resumed read \(read) B, a full send \(fullRead) B")
            try expectOK(cli.run(["vault", "verify", "kill", "--read-data"]))

            phase("resume")
            // The network cut under a stalled send.
            try expectOK(cli.run(["vault", "add", "cut", SSHPeer.location(paths[2])]))
            let marker = dir + "/cut.stalled", release = dir + "/cut.release"
            let done = DispatchSemaphore(value: 0)
            nonisolated(unsafe) var cut: CLI.Result?
            Thread.detachNewThread {
                cut = try? cli.run(
                    ["send", vm, "k1", "--to", "cut"],
                    environment: ["KVMSNAP_TEST_STALL_AT": "send.diskChunk", "KVMSNAP_TEST_STALL_MARKER": marker, "KVMSNAP_TEST_STALL_RELEASE": release],
                    timeout: 240)
                done.signal()
            }
            try waitForFile(marker)
            try SSHPeer.link(up: false)
            let cutAt = ContinuousClock.now
            FileManager.default.createFile(atPath: release, contents: nil)
            done.wait()
            let failed = try #require(cut)
            print("ssh vault: network cut: the send failed after \(ContinuousClock.now - cutAt): \(failed.stderr.prefix(300))")
            #expect(failed.status != 0)
            #expect(
                failed.stderr.contains("ssh://root@\(SSHPeer.address)")
                    && (failed.stderr.contains("not responding") || failed.stderr.contains("timed out")), "\(failed.stderr)")
            try SSHPeer.link(up: true)
            phase("cut")
            let again = try cli.run(["send", vm, "k1", "--to", "cut", "--json"], timeout: 180)
            try #require(again.status == 0, "\(again.stderr)")
            #expect((again.json as? [String: Any])?["resumed"] as? Bool == true, "\(again.stdout)")
            try expectOK(cli.run(["vault", "verify", "cut", "--read-data"]))
        }
    }
}

/// Sets every file under `dir` `seconds` into the past (marks of a sender or gc that died long ago).
func ageMarks(_ dir: String, by seconds: Int) throws {
    for name in try FileManager.default.contentsOfDirectory(atPath: dir) {
        let past = Date().addingTimeInterval(-Double(seconds))
        try FileManager.default.setAttributes([.modificationDate: past], ofItemAtPath: dir + "/" + name)
    }
}
