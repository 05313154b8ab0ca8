import Foundation
import KVMSnapCore
import SnapshotCatalog
import SnapshotEngine
import Testing
import Vault

/// Disaster recovery from a vault: `restore --from-vault` on a host that lost the VM, its
/// images, the catalog and the store; refusals on damaged vaults; encryption; a killed restore.
@Suite(.serialized, .enabled(if: IntegrationEnvironment.available))
struct VaultRestoreTests {
    /// The guest, three snapshots with writes between them, all in vault `v` (plain or encrypted).
    struct Scenario {
        let f: EngineFixture
        let vaultDir: String
        /// Where vault `v` lives: `vaultDir`, or a remote location with its options.
        var vaultLocation: String
        var vaultOptions = VaultOptions()
        /// Per snapshot: the counter its vda holds, and digests of vda and vdb as the snapshot has them.
        var counters: [String: Int] = [:]
        var digests: [String: [String]] = [:]
        var counterBeforeDisaster = 0

        /// `remote` (called once the guest's directory exists): another location for the vault
        /// than `vaultDir`, with its options.
        init(tag: String, encrypted: Bool, remote: ((EngineFixture) throws -> (String, VaultOptions))? = nil) throws {
            f = try EngineFixture(tag: tag, diskMiB: [64, 64])
            vaultDir = f.guest.directory + "/vault"
            vaultLocation = vaultDir
            do {
                if let remote { (vaultLocation, vaultOptions) = try remote(f) }
                var add = VaultAddOptions(name: "v", location: vaultLocation)
                add.options = vaultOptions
                add.encrypt = encrypted
                _ = try f.engine.addVault(add)
                let repository = try f.engine.openVault("v")
                let g = f.guest
                try g.waitForCounter(atLeast: 2)
                for (index, name) in ["s1", "s2", "s3"].enumerated() {
                    if index > 0 { try guestWrite(g, mib: index == 1 ? 32 : 8, tag: "w\(index)") }
                    _ = try g.waitUntilStillCounting()
                    let snap = try f.snapshot(name)
                    counters[name] = snap.diskCounter
                    digests[name] = try ["vda", "vdb"].map { try contentDigest(try f.frozenLayerPath(snap.record.id, disk: $0), scratch: g.directory) }
                    try sendToVault(f, snap.record, disks: ["vda", "vdb"], into: repository)
                }
                counterBeforeDisaster = try g.waitUntilStillCounting()
            } catch {
                f.destroy()
                throw error
            }
        }

        /// The host dies: the VM is destroyed and undefined, its images, catalog and store deleted.
        /// The guest's directory stays (it holds the vault and the console log the config names).
        func disaster() throws {
            removeDomain(f.guest, named: f.guest.name)
            for disk in f.guest.diskPaths { unlink(disk) }
            for suffix in ["", "-wal", "-shm"] { unlink(f.catalogPath + suffix) }
            try? FileManager.default.removeItem(atPath: f.storePath)
        }

        /// A fresh catalog and store on the "new host", with the vault attached (`keyFile` for an
        /// encrypted one).
        func newHost(_ name: String, keyFile: String? = nil) throws -> CLI {
            let cli = CLI(catalog: f.guest.directory + "/\(name).sqlite", store: f.guest.directory + "/\(name)-store")
            let catalog = try Catalog(path: cli.catalog)
            let engine = SnapshotEngine(connection: f.guest.connection, catalog: catalog, store: StoreLayout(root: cli.store))
            var add = VaultAddOptions(name: "v", location: vaultLocation)
            add.options = vaultOptions
            add.keyFile = keyFile
            _ = try engine.addVault(add)
            return cli
        }

        /// The imported snapshot's layers (per disk target) in a catalog.
        func importedLayers(_ cli: CLI, vm: String, snapshot: String) throws -> [String: String] {
            let catalog = try Catalog(path: cli.catalog)
            return try catalog.read { db in
                guard let record = try db.vm(named: vm), let snap = try db.snapshot(vmUUID: record.uuid, name: snapshot) else { return [:] }
                var out: [String: String] = [:]
                for disk in try db.disks(ofSnapshot: snap.id) { out[disk.diskTarget] = try db.layer(id: disk.layerID)?.path }
                return out
            }
        }
    }

    @Test func disasterRecoveryBringsBackMemoryAndDisksAndAsNewVMBootsFromDisk() throws {
        let s = try Scenario(tag: "vdr", encrypted: false)
        let g = s.f.guest
        let clone = g.name + "-as"
        defer {
            removeDomain(g, named: clone)
            s.f.destroy()
        }
        try s.disaster()
        let host = try s.newHost("dr")

        // vault extract: files only (raw here), no domain, no catalog change.
        let extracted = g.directory + "/extract"
        let report = try VaultExtraction.extract(
            catalog: try Catalog(path: host.catalog), store: StoreLayout(root: host.store), vault: "v", vm: g.name, snapshot: "s3",
            to: extracted, raw: true)
        #expect(Set(report.files.map { ($0 as NSString).lastPathComponent }) == ["vda.raw", "vdb.raw", "memory.img", "domain.xml"])
        #expect(try ["vda", "vdb"].map { try contentDigest(extracted + "/\($0).raw", scratch: g.directory) } == s.digests["s3"])
        #expect((try? g.connection.lookupDomain(name: g.name)) == nil)
        #expect(try Catalog(path: host.catalog).read { try $0.allVMs() }.isEmpty)
        #expect(throws: EngineError.self) {
            _ = try VaultExtraction.extract(
                catalog: try Catalog(path: host.catalog), store: StoreLayout(root: host.store), vault: "v", vm: g.name, snapshot: "s3",
                to: extracted, raw: true)
        }
        try FileManager.default.removeItem(atPath: extracted)

        // s2: memory and both disks as they were.
        let restored = try host.run(["restore", "--from-vault", "v", g.name, "s2", "--json"])
        #expect(restored.status == 0, "\(restored.stderr)")
        let json = restored.json as? [String: Any]
        #expect(json?["restoredMemory"] as? Bool == true && json?["createdVM"] as? Bool == true, "\(restored.stdout)")
        try g.refresh()
        #expect(g.isRunning)
        let s2 = try #require(s.counters["s2"])
        let first = try g.waitForFirstCounter()
        #expect(first >= s2 && first <= s2 + 2 && first < s.counterBeforeDisaster, "resumed at \(first); s2's disk held \(s2)")
        let layers = try s.importedLayers(host, vm: g.name, snapshot: "s2")
        let digests = try ["vda", "vdb"].map { try contentDigest(try #require(layers[$0]), scratch: g.directory) }
        #expect(digests == s.digests["s2"], "restored disks differ from s2's")
        #expect(try host.snapshotStates(g.name) == ["s2": "ready"])

        // Local snapshots continue from the imported one (an incremental on its layers).
        try g.waitForCounter(atLeast: first + 2)
        let created = try host.run(["create", g.name, "--name", "after-dr", "--json"])
        #expect(created.status == 0, "\(created.stderr)")
        #expect(try host.snapshotStates(g.name) == ["s2": "ready", "after-dr": "ready"])
        try host.expectCheckPasses(g.name, "after the vault restore and a local create: ")

        // s3 as a new VM: boots from s3's disks.
        let asNew = try host.run(["restore", "--from-vault", "v", g.name, "s3", "--as", clone, "--raw"])
        #expect(asNew.status == 0, "\(asNew.stderr)")
        let cloneLog = (g.consoleLog as NSString).deletingPathExtension + "-\(clone).log"
        let s3 = try #require(s.counters["s3"])
        #expect(HostTools.wait(timeout: 60) { TestGuest.counters(inLog: cloneLog).first != nil })
        #expect(TestGuest.counters(inLog: cloneLog).first == s3 + 1, "the new VM booted at \(TestGuest.counters(inLog: cloneLog))")
        let cloneLayers = try s.importedLayers(host, vm: clone, snapshot: "s3")
        #expect(try ["vda", "vdb"].map { try contentDigest(try #require(cloneLayers[$0]), scratch: g.directory) } == s.digests["s3"])
        #expect(cloneLayers.values.allSatisfy { $0.hasSuffix(".raw") })

        // The VM exists now: replacing it needs its typed name.
        let refused = try host.run(["restore", "--from-vault", "v", g.name, "s1"])
        #expect(refused.status != 0 && refused.stderr.contains("--confirm"), "\(refused.stderr)")
        #expect(try host.snapshotStates(g.name).keys.sorted() == ["after-dr", "s2"], "the refused restore imported something")
        // With it: the restore pipeline (safety snapshot first), back at s1's memory.
        let replaced = try host.run(["restore", "--from-vault", "v", g.name, "s1", "--confirm", g.name, "--json"])
        #expect(replaced.status == 0, "\(replaced.stderr)")
        #expect(((replaced.json as? [String: Any])?["restore"] as? [String: Any])?["safetySnapshot"] is String, "\(replaced.stdout)")
        let s1 = try #require(s.counters["s1"])
        let back = try g.waitForFirstCounter()
        #expect(back >= s1 && back <= s1 + 2, "resumed at \(back); s1's disk held \(s1)")
        #expect(try host.snapshotStates(g.name).count == 4, "s2, after-dr, s1 and the safety snapshot")
        try host.expectCheckPasses(g.name, "after replacing the VM from the vault: ")
    }

    @Test func aDamagedVaultIsRefusedByNameAndTheHostIsUnchanged() throws {
        let s = try Scenario(tag: "vbad", encrypted: false)
        let g = s.f.guest
        defer { s.f.destroy() }
        try s.disaster()
        let host = try s.newHost("bad")
        let repository = try VaultRepository.open(backend: try DirectoryBackend(root: s.vaultDir), key: nil)
        let uuid = try #require(try repository.manifestKeys().first?.split(separator: "/").dropFirst().first.map(String.init))
        let manifest = try repository.manifest(vmUUID: uuid, snapshot: "s2")
        let s3Refs = Set(try repository.manifest(vmUUID: uuid, snapshot: "s3").chunkRefs)
        let own = manifest.chunkRefs.filter { !s3Refs.contains($0) }
        let victim = try #require(own.first), missing = try #require(own.dropFirst().first)
        let victimPath = s.vaultDir + "/" + VaultLayout.chunk(victim), missingPath = s.vaultDir + "/" + VaultLayout.chunk(missing)

        func expectRefused(_ snapshot: String, naming name: String, _ what: String) throws {
            // `vault verify --read-data` finds the damage and names the object.
            let verify = try host.run(["vault", "verify", "v", "--read-data", "--json"])
            #expect(verify.status != 0, "\(what): verify passed: \(verify.stdout)")
            let report = try #require(verify.json as? [String: Any], "\(what): \(verify.stdout)\(verify.stderr)")
            #expect(report["ok"] as? Bool == false, "\(what): \(verify.stdout)")
            let problems = (report["problems"] as? [[String: Any]] ?? []).map { "\($0)" }.joined(separator: " | ")
            #expect(problems.contains(name), "\(what): verify's problems do not name \(name): \(problems)")
            let before = filesUnder(host.store)
            let catalogBefore = try Catalog(path: host.catalog).read { db in (try db.allVMs(), try db.snapshots(states: [.ready, .pending, .failed])) }
            let result = try host.run(["restore", "--from-vault", "v", g.name, snapshot])
            #expect(result.status != 0, "\(what): restore succeeded")
            #expect(result.stderr.contains(name), "\(what): \(result.stderr)")
            #expect((try? g.connection.lookupDomain(name: g.name)) == nil, "\(what): a domain was defined")
            #expect(filesUnder(host.store).subtracting(before).filter { !$0.hasPrefix("locks") }.isEmpty, "\(what): new files in the store")
            let catalogAfter = try Catalog(path: host.catalog).read { db in (try db.allVMs(), try db.snapshots(states: [.ready, .pending, .failed])) }
            #expect(catalogAfter.0 == catalogBefore.0 && catalogAfter.1 == catalogBefore.1, "\(what): the catalog changed")
        }

        // A flipped byte: found while writing (after preflight), and every partial is removed.
        var bytes = [UInt8](try Data(contentsOf: URL(fileURLWithPath: victimPath)))
        bytes[bytes.count / 2] ^= 0x5A
        try Data(bytes).write(to: URL(fileURLWithPath: victimPath))
        try expectRefused("s2", naming: String(victim.hex.prefix(16)), "flipped byte")
        bytes[bytes.count / 2] ^= 0x5A
        try Data(bytes).write(to: URL(fileURLWithPath: victimPath))

        // A deleted chunk: refused by the preflight.
        try FileManager.default.moveItem(atPath: missingPath, toPath: missingPath + ".away")
        try expectRefused("s2", naming: String(missing.hex.prefix(16)), "missing chunk")
        try FileManager.default.moveItem(atPath: missingPath + ".away", toPath: missingPath)

        // A truncated manifest.
        let manifestPath = s.vaultDir + "/" + VaultLayout.manifest(vmUUID: uuid, snapshot: "s2")
        let full = try Data(contentsOf: URL(fileURLWithPath: manifestPath))
        try full.prefix(full.count / 2).write(to: URL(fileURLWithPath: manifestPath))
        try expectRefused("s2", naming: "s2.manifest", "truncated manifest")
        try full.write(to: URL(fileURLWithPath: manifestPath))

        // A --disk-dir the disks cannot be written into: refused as bad input before any job row.
        let jobsBefore = try host.run(["jobs", "--json"]).stdout, storeBefore = filesUnder(host.store)
        for directory in ["/proc", "/proc/kvmsnap-nosuch", "/etc/hostname"] {
            let refused = try host.run(["restore", "--from-vault", "v", g.name, "s2", "--disk-dir", directory])
            #expect(
                refused.status == 64 && refused.stderr.contains("--disk-dir") && refused.stderr.contains("nothing was changed"),
                "\(directory): \(refused.status) \(refused.stderr)")
            #expect(try host.run(["jobs", "--json"]).stdout == jobsBefore, "\(directory): a job row was written")
            #expect(filesUnder(host.store).subtracting(storeBefore).filter { !$0.hasPrefix("locks") }.isEmpty, "\(directory): new files in the store")
            #expect((try? g.connection.lookupDomain(name: g.name)) == nil)
        }

        // Repaired, it restores (the refusals left nothing in the way).
        let ok = try host.run(["restore", "--from-vault", "v", g.name, "s2", "--no-start"])
        #expect(ok.status == 0, "\(ok.stderr)")
    }

    @Test func anEncryptedVaultRestoresWithItsKeyRefusesAWrongOneAndAKilledRestoreIsCleanedUp() throws {
        let s = try Scenario(tag: "venc", encrypted: true)
        let g = s.f.guest
        defer { s.f.destroy() }
        let keyFile = g.directory + "/vault.key"
        try FileManager.default.copyItem(atPath: s.f.storePath + "/keys/v.key", toPath: keyFile)
        try s.disaster()

        // A wrong key: refused when the vault is attached.
        let wrongKey = g.directory + "/wrong.key"
        try Data((0..<32).map { _ in UInt8.random(in: 0...255) }).write(to: URL(fileURLWithPath: wrongKey))
        chmod(wrongKey, 0o600)
        #expect { _ = try s.newHost("wrong", keyFile: wrongKey) } throws: { error in
            (error as? EngineError)?.message.lowercased().contains("key") == true
        }

        let host = try s.newHost("enc", keyFile: keyFile)
        // Killed while writing its files: the next command removes them and leaves no rows.
        let marker = g.directory + "/stall.marker"
        try host.killAt("vault-restore.materialize", ["restore", "--from-vault", "v", g.name, "s2"], marker: marker)
        let partials = filesUnder(host.store).filter { $0.hasSuffix(".partial") }
        #expect(!partials.isEmpty, "no partial file at the kill point")
        let sweep = try host.run(["restore", "--from-vault", "v", g.name, "s9"])  // any command that writes the catalog
        #expect(sweep.status != 0)
        #expect(filesUnder(host.store).filter { !$0.hasPrefix("locks") && !$0.hasPrefix("keys") }.isEmpty, "\(filesUnder(host.store))")
        let rows = try Catalog(path: host.catalog).read { db in (try db.allVMs().count, try db.snapshots(states: [.ready, .pending, .failed]).count) }
        #expect(rows.0 == 0 && rows.1 == 0, "catalog rows after the killed restore: \(rows)")

        // With the key: memory and disks as in s2.
        let restored = try host.run(["restore", "--from-vault", "v", g.name, "s2"])
        #expect(restored.status == 0, "\(restored.stderr)")
        try g.refresh()
        let s2 = try #require(s.counters["s2"])
        let first = try g.waitForFirstCounter()
        #expect(first >= s2 && first <= s2 + 2, "resumed at \(first); s2's disk held \(s2)")
        let layers = try s.importedLayers(host, vm: g.name, snapshot: "s2")
        #expect(try ["vda", "vdb"].map { try contentDigest(try #require(layers[$0]), scratch: g.directory) } == s.digests["s2"])

        // Killed after the import, while the new VM is defined on the imported (frozen) layers.
        for point in ["revert.overlaysMade", "revert.beforeStart"] {
            let clone = g.name + "-k" + (point == "revert.overlaysMade" ? "o" : "s")
            defer { removeDomain(g, named: clone) }
            try expectKilledRestoreAsNewIsFinished(s, host: host, point: point, clone: clone)
        }
    }

    /// A `restore --from-vault --as clone` of s3 killed at `point`: the next command finishes it on
    /// new overlays, so running the VM leaves s3's layers as they were, `check` passes and a
    /// restore to s3 brings s3's disk back. `check` flags the VM once it is pointed at s3's layer.
    func expectKilledRestoreAsNewIsFinished(_ s: Scenario, host: CLI, point: String, clone: String) throws {
        let g = s.f.guest
        try host.killAt(point, ["restore", "--from-vault", "v", g.name, "s3", "--as", clone], marker: g.directory + "/\(clone).stalled")
        let next = try host.run(["list", clone])
        #expect(next.status == 0, "\(point): \(next.stderr)")
        let frozen = try s.importedLayers(host, vm: clone, snapshot: "s3")
        let frozenBytes = try frozen.mapValues { String(try TestGuest.run("sha256sum", [$0]).prefix(64)) }
        let disks = try HostTools.virsh(["domblklist", clone])
        #expect(frozen.count == 2 && !frozen.values.contains { disks.contains($0) }, "\(point): the VM runs on s3's own layers:\n\(disks)")
        try host.expectCheckPasses(clone, "after the restore killed at \(point): ")
        let domain = try g.connection.lookupDomain(name: clone)
        if !(try domain.isActive) { try domain.start() }
        let cloneLog = (g.consoleLog as NSString).deletingPathExtension + "-\(clone).log"
        let s3 = try #require(s.counters["s3"])
        #expect(HostTools.wait(timeout: 60) { TestGuest.counters(inLog: cloneLog).count >= 3 }, "\(point): the clone does not count")
        #expect(TestGuest.counters(inLog: cloneLog).first == s3 + 1, "\(point): the clone booted at \(TestGuest.counters(inLog: cloneLog))")
        #expect(try frozen.mapValues { String(try TestGuest.run("sha256sum", [$0]).prefix(64)) } == frozenBytes, "\(point): s3's layers changed")

        // Restored to s3: it boots from s3's disk again.
        // libvirt starts the console log anew on each start; removed first, it holds only the new boot.
        unlink(cloneLog)
        let restored = try host.run(["restore", clone, "s3", "--confirm", clone])
        #expect(restored.status == 0, "\(point): \(restored.stderr)")
        #expect(HostTools.wait(timeout: 60) { !TestGuest.counters(inLog: cloneLog).isEmpty }, "\(point): no boot after the restore")
        #expect(TestGuest.counters(inLog: cloneLog).first == s3 + 1, "\(point): not booted from s3's disk: \(TestGuest.counters(inLog: cloneLog))")
        try host.expectCheckPasses(clone, "after the restore to s3 (\(point)): ")

        // Pointed at s3's own layer (outside kvmsnap): check names the disk and the snapshot.
        try? domain.destroy()
        let vda = try #require(frozen["vda"])
        let xml = try domain.xml(flags: [.inactive])
        let listing: String = try HostTools.virsh(["domblklist", clone, "--inactive"])
        let rows: [[Substring]] = listing.split(separator: "\n").map { $0.split(separator: " ") }
        let vdaRow: [Substring] = try #require(rows.first { $0.first == "vda" })
        let current = String(try #require(vdaRow.last))
        _ = try g.connection.defineDomain(xml: xml.replacingOccurrences(of: current, with: vda))
        let check = try host.run(["check", clone])
        #expect(check.status != 0 && check.stdout.contains("vda") && check.stdout.contains("'s3'"), "\(point): \(check.stdout)\(check.stderr)")
    }
}
