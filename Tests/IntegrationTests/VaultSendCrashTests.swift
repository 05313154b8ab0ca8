import Foundation
import KVMSnapCore
import SnapshotEngine
import Testing

/// Sends SIGKILLed at fault points, and a gc running while a send is stalled: the vault stays
/// consistent and the next send resumes, reading only what is missing.
@Suite(.serialized, .enabled(if: IntegrationEnvironment.available))
struct VaultSendCrashTests {
    /// One guest: a reference full send of k1 to vault `ref`, then per fault point a fresh vault
    /// whose send of k1 is killed there and sent again.
    @Test func aKilledSendLeavesTheVaultConsistentAndTheNextOneResumes() throws {
        let fixture = try EngineFixture(tag: "vkill", diskMiB: [64, 128])
        defer { fixture.destroy() }
        let cli = CLI(fixture), vm = fixture.guest.name, dir = fixture.guest.directory
        try fixture.guest.waitForCounter(atLeast: 1)
        try fixture.guest.guestWrite(mib: 48, tag: "w48")
        try expectOK(cli.run(["create", vm, "--name", "k1"]))
        try expectOK(cli.run(["vault", "add", "ref", dir + "/vault-ref"]))
        let full = try #require(try cli.run(["send", vm, "k1", "--to", "ref", "--json"]).json as? [String: Any])
        let fullRead = try #require(full["bytesRead"] as? Int64)
        print("vault kill: full send read \(fullRead) B, stored \(full["bytesStored"] ?? "?") B in \(full["seconds"] ?? "?") s")
        for point in ["send.diskChunk", "send.diskHalf", "send.memoryChunk", "send.beforeManifest"] {
            let name = "k-" + point.replacingOccurrences(of: ".", with: "-")
            try expectOK(cli.run(["vault", "add", name, dir + "/vault-" + name]))
            try cli.killAt(point, ["send", vm, "k1", "--to", name], marker: dir + "/\(name).stalled")
            let verify = try cli.run(["vault", "verify", name, "--read-data", "--json"])
            #expect(verify.status == 0, "after a kill at \(point): \(verify.stdout)\(verify.stderr)")
            let none = try #require(try cli.run(["vault", "snapshots", name, "--json"]).json as? [Any])
            #expect(none.isEmpty, "no manifest before the send completes (\(point))")
            let again = try cli.run(["send", vm, "k1", "--to", name, "--json"])
            try #require(again.status == 0, "resumed send after \(point): \(again.stderr)")
            let report = try #require(again.json as? [String: Any])
            let read = report["bytesRead"] as? Int64 ?? -1
            print("vault kill at \(point): resumed send read \(read) B of \(fullRead) B, stored \(report["bytesStored"] ?? "?") B")
            #expect(report["resumed"] as? Bool == true, "\(point)")
            #expect(read >= 0 && read < fullRead, "the resumed send after \(point) read \(read) B, a full one \(fullRead) B")
            if point == "send.beforeManifest" { #expect(read == 0, "everything was stored before the manifest") }
            if point == "send.diskHalf" { #expect(read <= fullRead - 16 * (1 << 20), "half of the 48 MiB written was stored before the kill") }
            let clean = try cli.run(["vault", "verify", name, "--read-data"])
            #expect(clean.status == 0, "\(clean.stdout)")
            // The interrupted job is finished by the next command on the VM (as a failed send).
            let jobs = try #require(try cli.run(["jobs", vm, "--json"]).json as? [[String: Any]])
            #expect(jobs.contains { $0["kind"] as? String == "send" && $0["state"] as? String == "failed" }, "\(point)")
        }
    }

    /// A send killed after its manifest but before the catalog recorded it: the next send of that
    /// snapshot records it (the vault holds it), and a later send is incremental to it.
    @Test func aSendKilledAfterItsManifestStillBecomesTheAnchor() throws {
        let fixture = try EngineFixture(tag: "vanc", diskMiB: [64, 64])
        defer { fixture.destroy() }
        let cli = CLI(fixture), vm = fixture.guest.name, dir = fixture.guest.directory
        try fixture.guest.waitForCounter(atLeast: 1)
        try expectOK(cli.run(["create", vm, "--name", "a1"]))
        try expectOK(cli.run(["vault", "add", "a", dir + "/vault"]))
        try cli.killAt("send.afterManifest", ["send", vm, "a1", "--to", "a"], marker: dir + "/a.stalled")
        let again = try cli.run(["send", vm, "a1", "--to", "a"])
        #expect(again.status != 0 && again.stderr.contains("already"), "\(again.stderr)")
        try fixture.guest.guestWrite(mib: 4, tag: "w4")
        try expectOK(cli.run(["create", vm, "--name", "a2"]))
        let next = try #require(try cli.run(["send", vm, "a2", "--to", "a", "--json"]).json as? [String: Any])
        #expect(next["baseSnapshot"] as? String == "a1", "\(next)")
    }

    /// A gc while a send is stalled deletes nothing that send needs: the send goes on and the
    /// vault verifies with every chunk re-hashed.
    @Test func gcDuringASendDeletesNothingItNeeds() throws {
        let fixture = try EngineFixture(tag: "vgc", diskMiB: [64, 64])
        defer { fixture.destroy() }
        let cli = CLI(fixture), vm = fixture.guest.name, dir = fixture.guest.directory
        try fixture.guest.waitForCounter(atLeast: 1)
        try fixture.guest.guestWrite(mib: 16, tag: "w16")
        try expectOK(cli.run(["create", vm, "--name", "g1"]))
        try fixture.guest.guestWrite(mib: 8, tag: "w8")
        try expectOK(cli.run(["create", vm, "--name", "g2"]))
        try expectOK(cli.run(["vault", "add", "g", dir + "/vault"]))
        try expectOK(cli.run(["send", vm, "g1", "--to", "g"]))
        // g1 pruned from the vault: its chunks are garbage for gc, but g2's send reuses them.
        try expectOK(cli.run(["vault", "prune", "g", "--keep-last", "1"]))
        let marker = dir + "/stalled", release = dir + "/release"
        let sender = try cli.start(
            ["send", vm, "g2", "--to", "g"],
            environment: ["KVMSNAP_TEST_STALL_AT": "send.memoryChunk", "KVMSNAP_TEST_STALL_MARKER": marker, "KVMSNAP_TEST_STALL_RELEASE": release])
        defer { sender.signal(SIGKILL); sender.wait() }
        try waitForFile(marker)
        let gc = try cli.run(["vault", "gc", "g", "--grace", "0", "--json"])
        #expect(gc.status == 0, "\(gc.stderr)")
        let report = try #require(gc.json as? [String: Any])
        #expect(report["deletedChunks"] as? Int == 0, "\(gc.stdout)")
        FileManager.default.createFile(atPath: release, contents: nil)
        let status = sender.wait()
        #expect(status.succeeded, "the stalled send completes after the gc")
        let verify = try cli.run(["vault", "verify", "g", "--read-data", "--json"])
        #expect(verify.status == 0 && (verify.json as? [String: Any])?["ok"] as? Bool == true, "\(verify.stdout)")

        // A killed gc's mark: the next send says once, on stderr, that it waits for it and how old
        // it is, and goes on when the mark is gone.
        try expectOK(cli.run(["create", vm, "--name", "g3"]))
        let mark = dir + "/vault/marks/gc-killed"
        FileManager.default.createFile(atPath: mark, contents: Data("gc\n".utf8))
        let waiting = try cli.start(["send", vm, "g3", "--to", "g"], captureOutput: true)
        defer { waiting.signal(SIGKILL); waiting.wait() }
        Thread.sleep(forTimeInterval: 3)
        #expect(FileManager.default.fileExists(atPath: mark), "the send waited without touching the gc's mark")
        try FileManager.default.removeItem(atPath: mark)
        let outcome = waiting.wait(timeout: .seconds(240))
        #expect(outcome.status == 0, "\(outcome.standardError)")
        let notices = outcome.standardError.components(separatedBy: "waiting for a vault gc to finish: marks/gc-killed was refreshed ")
        #expect(notices.count == 2, "\(outcome.standardError)")
    }
}
