import Foundation
import KVMSnapCore
import SnapshotCatalog
import SnapshotEngine
import Testing
import Vault

#if canImport(FoundationXML)
import FoundationXML
#endif

/// Writes a local snapshot into a vault through the Vault module's `SendSession` (every disk
/// read whole through a read-only NBD export of its frozen layer, the memory image, the
/// configuration): what `send` stores, without depending on it.
func sendToVault(_ f: EngineFixture, _ snapshot: SnapshotRecord, disks: [String], into repository: VaultRepository) throws {
    let session = try repository.beginSend()
    var manifest = VaultManifest(
        vm: f.guest.name, vmUUID: snapshot.vmUUID, snapshot: snapshot.name, localSnapshotID: snapshot.id,
        kind: snapshot.hasMemory ? "memory" : "disk-only", createdAt: snapshot.createdAt, host: "testhost",
        kvmsnapVersion: "test", hasMemory: snapshot.hasMemory, domainXML: snapshot.configXML)
    for disk in disks {
        let export = try NBDExport(image: try f.frozenLayerPath(snapshot.id, disk: disk), access: .readOnly(forceShare: true))
        let size = export.client.exportSize
        let plan = DiskChunkPlan(
            virtualSize: size, changed: ByteRangeSet(), allocated: ByteRangeSet([ByteRange(offset: 0, length: size)]),
            previousVirtualSize: nil)
        manifest.disks.append(
            try session.storeDisk(target: disk, format: "qcow2", from: NBDTestSource(client: export.client), plan: plan, previous: nil))
        try export.finish()
    }
    if let path = snapshot.memoryPath {
        let fd = open(path, O_RDONLY)
        guard fd >= 0 else { throw TestGuestError("cannot open \(path)") }
        defer { close(fd) }
        manifest.memory = try session.storeStream(fileDescriptor: fd)
    }
    _ = try session.commit(manifest)
}

struct NBDTestSource: BlockSource {
    let client: NBDClient
    func read(offset: Int64, length: Int) throws(VaultError) -> [UInt8] {
        var out = [UInt8](repeating: 0, count: length)
        let result: Result<Void, EngineError> = out.withUnsafeMutableBytes { b in Result { () throws(EngineError) in try client.read(at: offset, into: b) } }
        do { try result.get() } catch { throw .source(error.message) }
        return out
    }
}

/// SHA-256 of what an image (with its backing chain) reads as.
func contentDigest(_ image: String, scratch: String) throws -> String {
    let raw = scratch + "/digest-\(UUID().uuidString.prefix(8)).raw"
    defer { unlink(raw) }
    _ = try TestGuest.run("qemu-img", ["convert", "-U", "-O", "raw", image, raw])
    return String(try TestGuest.run("sha256sum", [raw]).prefix(64))
}

/// The guest writes `mib` MiB of random data to vdb (control channel `org.kvmsnap.control.0`),
/// as scripts/bench.sh's guest_write does; returns once the guest reports it written.
func guestWrite(_ g: TestGuest, mib: Int, tag: String) throws {
    let xml = try g.connection.lookupDomain(name: g.name).xml(flags: [])
    let document = try XMLDocument(xmlString: xml)
    let nodes = try document.nodes(forXPath: "//channel[target/@name='org.kvmsnap.control.0']/source/@path")
    guard let socket = nodes.first?.stringValue else { throw TestGuestError("no control channel") }
    let script = """
        import socket, sys
        s = socket.socket(socket.AF_UNIX); s.settimeout(300); s.connect(sys.argv[1])
        s.sendall(("write %s %s\\n" % (sys.argv[2], sys.argv[3])).encode())
        buf = b""
        while b"\\n" not in buf:
            c = s.recv(100)
            if not c: break
            buf += c
        if buf.decode().strip() != "wrote=%s" % sys.argv[3]: sys.exit("guest write failed: %r" % buf)
        """
    _ = try TestGuest.run("python3", ["-c", script, socket, String(mib), tag])
}

/// Destroys and undefines a domain by name if it exists (cleanup of restored VMs).
func removeDomain(_ g: TestGuest, named name: String) {
    if let domain = try? g.connection.lookupDomain(name: name) {
        try? domain.destroy()
        try? domain.undefine(flags: [.nvram, .snapshotsMetadata, .checkpointsMetadata])
    }
}
