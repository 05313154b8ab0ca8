import Foundation
import KVMSnapCore
import SnapshotEngine
import Testing

/// Is `pid` a live process (not gone, not a zombie waiting for its reaper)?
func processIsAlive(_ pid: pid_t) -> Bool {
    guard let stat = try? String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8),
        let close = stat.lastIndex(of: ")")
    else { return false }
    let state = stat[stat.index(after: close)...].trimmingCharacters(in: .whitespaces).prefix(1)
    return state != "Z" && state != "X"
}

/// Exports while something else holds the chain: a running guest, and a holder that is SIGKILLed.
@Suite(.serialized, .enabled(if: ExternalProcess.resolve("qemu-nbd") != nil))
struct NBDExportGuestTests {
    /// A process that starts qemu-nbd exactly as ``NBDExport`` does (same arguments, own process
    /// group) and connects to it, then is SIGKILLed: qemu-nbd must end by itself.
    @Test func qemuNBDEndsWhenTheProcessHoldingItsExportIsKilled() throws {
        let chain = try NBDExportTests.Chain()
        defer { chain.remove() }
        let socket = chain.directory + "/holder.sock", marker = chain.directory + "/holder.pid"
        let args = NBDExport.arguments(image: chain.top, format: "qcow2", access: .readOnly(forceShare: false), socket: socket)
        let script = """
            import os, socket, subprocess, sys, time
            sock, marker = sys.argv[1], sys.argv[2]
            server = subprocess.Popen(["qemu-nbd"] + sys.argv[3:], start_new_session=True)
            client = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            for _ in range(500):
                try:
                    client.connect(sock); break
                except OSError:
                    time.sleep(0.01)
            def take(n):
                data = b""
                while len(data) < n:
                    more = client.recv(n - len(data)); assert more; data += more
                return data
            assert take(18)[:8] == b"NBDMAGIC"
            # Finish the handshake as NBDClient does (NBD_OPT_GO, default export): qemu-nbd only
            # ends on the disconnect of a client that completed negotiation.
            client.sendall((3).to_bytes(4, "big"))
            client.sendall(b"IHAVEOPT" + (7).to_bytes(4, "big") + (6).to_bytes(4, "big") + bytes(6))
            while True:
                header = take(20)
                take(int.from_bytes(header[16:20], "big"))
                if int.from_bytes(header[12:16], "big") == 1: break
            open(marker, "w").write(str(server.pid))
            time.sleep(600)
            """
        let holder = try ExternalProcess.start("python3", ["-c", script, socket, marker] + args)
        defer { holder.signal(SIGKILL); holder.wait() }
        var server: pid_t?
        _ = HostTools.wait(timeout: 20) {
            server = (try? String(contentsOfFile: marker, encoding: .utf8)).flatMap { pid_t($0) }
            return server != nil
        }
        let pid = try #require(server, "the holder never connected")
        #expect(processIsAlive(pid))
        kill(holder.pid, SIGKILL)
        let gone = HostTools.wait(timeout: 10) { !processIsAlive(pid) }
        #expect(gone, "qemu-nbd \(pid) survived the SIGKILL of its client's process")
        #expect(NBDExportTests.qemuNBDProcesses(mentioning: chain.directory).allSatisfy { !processIsAlive($0) })
    }

    /// A holder killed after starting qemu-nbd but before finishing the handshake leaves it
    /// running (qemu 7.2 ends only after a negotiated client); the next export's sweep kills
    /// it, because the export directory names its dead owner. A live owner's export stays.
    @Test func anOrphanFromAKillDuringTheHandshakeIsKilledByTheSweep() throws {
        let chain = try NBDExportTests.Chain()
        defer { chain.remove() }
        let orphanDir = chain.directory + "/kvmsnap-nbd.orphan", liveDir = chain.directory + "/kvmsnap-nbd.live"
        for dir in [orphanDir, liveDir] { try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: false) }
        let args = { (dir: String) in
            NBDExport.arguments(image: chain.top, format: "qcow2", access: .readOnly(forceShare: true), socket: dir + "/nbd.sock")
        }
        let script = """
            import os, socket, subprocess, sys, time
            d = sys.argv[1]
            stat = open("/proc/self/stat").read()
            open(d + "/owner", "w").write("%d %s" % (os.getpid(), stat[stat.rindex(")") + 2:].split()[19]))
            server = subprocess.Popen(["qemu-nbd"] + sys.argv[2:], start_new_session=True)
            client = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            for _ in range(500):
                try:
                    client.connect(d + "/nbd.sock"); break
                except OSError:
                    time.sleep(0.01)
            client.recv(18)
            open(d + "/server.pid", "w").write(str(server.pid))
            time.sleep(600)
            """
        let holder = try ExternalProcess.start("python3", ["-c", script, orphanDir] + args(orphanDir), captureOutput: true)
        defer { holder.signal(SIGKILL); holder.wait() }
        try NBDExport.writeOwnerForTesting(liveDir)
        let live = try ExternalProcess.start("qemu-nbd", args(liveDir))
        defer { live.signal(SIGKILL); live.wait() }
        var server: pid_t?
        _ = HostTools.wait(timeout: 20) {
            server = (try? String(contentsOfFile: orphanDir + "/server.pid", encoding: .utf8)).flatMap { pid_t($0) }
            return server != nil
        }
        if server == nil { holder.signal(SIGKILL) }
        let pid = try #require(server, "the holder never connected: \(server == nil ? holder.wait().standardError : "")")
        kill(holder.pid, SIGKILL)
        holder.wait()
        _ = HostTools.wait(timeout: 2) { !processIsAlive(pid) }
        #expect(processIsAlive(pid), "qemu-nbd now ends after an unnegotiated client: the sweep may be unneeded")
        #expect(HostTools.wait(timeout: 10) { FileManager.default.fileExists(atPath: liveDir + "/nbd.sock") })

        let killed = NBDExport.sweepOrphans(in: chain.directory)
        #expect(killed == [pid])
        #expect(HostTools.wait(timeout: 5) { !processIsAlive(pid) })
        #expect(!FileManager.default.fileExists(atPath: orphanDir))
        #expect(processIsAlive(live.pid) && FileManager.default.fileExists(atPath: liveDir))
    }

    /// The send case: a running guest on its active layer, snapshots' frozen layers below it.
    @Test(.enabled(if: IntegrationEnvironment.available))
    func frozenLayersOfARunningGuestExportAndMapWhileItRuns() throws {
        let f = try EngineFixture(tag: "nbd")
        defer { f.destroy() }
        let g = f.guest
        try g.waitForCounter(atLeast: 2)
        let s1 = try f.snapshot("s1")
        try g.waitForCounter(atLeast: (s1.diskCounter ?? 0) + 2)
        let s2 = try f.snapshot("s2")
        let uuid = try f.engine.catalogVM(g.name).uuid
        let top = try f.frozenLayerPath(s2.record.id, disk: "vda")

        // The frozen top reads, with its chain, exactly as qemu-img reads it; no force-share needed.
        let export = try NBDExport(image: top, access: .readOnly(forceShare: false))
        var bytes = [UInt8](repeating: 0, count: Int(export.client.exportSize))
        try bytes.withUnsafeMutableBytes { try export.client.read(at: 0, into: $0) }
        let oracle = g.directory + "/nbd-oracle.raw"
        defer { unlink(oracle) }
        try TestGuest.run("qemu-img", ["convert", "-U", "-O", "raw", top, oracle])
        #expect(bytes == [UInt8](try Data(contentsOf: URL(fileURLWithPath: oracle))))
        #expect(String(decoding: bytes.prefix(32).prefix { $0 != 0 }, as: UTF8.self).hasPrefix("KVMSNAP-COUNTER \(s2.diskCounter ?? -1)"))
        try export.finish()
        #expect(g.isRunning)

        // The active layer is locked by QEMU: refused clearly, unless force-share is asked for.
        let active = try g.currentSource("vda")
        #expect { _ = try NBDExport(image: active, access: .readOnly(forceShare: false)) } throws: { error in
            (error as? EngineError)?.message.contains("lock") == true
        }
        let shared = try NBDExport(image: active, access: .readOnly(forceShare: true))
        #expect(shared.client.exportSize == 64 << 20)
        try shared.finish()

        // Per disk: s2 against s1 changed at least the counter's cluster; without a base, a full read.
        let incremental = try f.engine.vaultDiskSources(vmUUID: uuid, baseSnapshotID: s1.record.id, snapshotID: s2.record.id)
        #expect(incremental.map(\.diskTarget) == ["vda"])
        #expect(incremental.first?.topPath == top)
        #expect(incremental.first?.fullReadReason == nil)
        let changed = try #require(incremental.first?.changed)
        #expect(changed.first?.start == 0 && !changed.isEmpty)
        #expect(incremental.first?.virtualSize == 64 << 20)
        let full = try f.engine.vaultDiskSources(vmUUID: uuid, baseSnapshotID: nil, snapshotID: s2.record.id)
        #expect(full.first?.changed == nil && full.first?.fullReadReason == "no base snapshot")
        #expect(full.first?.allocated.first?.start == 0)
        #expect(NBDExportTests.qemuNBDProcesses(mentioning: g.directory).allSatisfy { !processIsAlive($0) })
    }
}
