import Foundation
import KVMSnapCore
import Vault

/// Where each file of a vault snapshot goes when it is materialized.
struct VaultFileTargets: Sendable, Codable {
    struct Disk: Sendable, Codable {
        var target: String
        var path: String
        /// `qcow2` or `raw`.
        var format: String
    }

    /// In the manifest's disk order.
    var disks: [Disk]
    var memory: String?
    var nvram: String?

    /// Every final path.
    var finals: [String] { disks.map(\.path) + [memory, nvram].compactMap { $0 } }
    /// Every temporary path (`<final>.partial`).
    var partials: [String] { finals.map(ImageTool.partialPath) }
}

/// Writes a vault snapshot's disks, memory image and NVRAM to files: each first under its
/// `.partial` name, all renamed into place (and synced) only once every one is complete. Any
/// failure removes every partial, so the host keeps nothing of a refused restore.
///
/// Every chunk is decoded and checked against its id as it is read (``VaultRepository``).
/// qcow2 disks are written through a writable ``NBDExport`` (only non-zero slots: holes stay
/// unallocated); raw disks are sparse files written with `pwrite`. No libvirt, no catalog.
struct VaultMaterializer {
    let repository: VaultRepository
    let manifest: VaultManifest
    var progress: ProgressHandler?
    /// Called after the first file is complete (a test's fault point).
    var afterFirstFile: () throws(EngineError) -> Void = {}

    /// Writes every file, renames them into place and syncs them and their directories.
    /// - Throws: `.io` naming the chunk or file; nothing of the targets is left then.
    func materialize(_ targets: VaultFileTargets) throws(EngineError) {
        do throws(EngineError) {
            try writePartials(targets)
            for (partial, final) in zip(targets.partials, targets.finals) {
                guard rename(partial, final) == 0 else {
                    throw EngineError(.io, "cannot move \(partial) into place: \(String(cString: strerror(errno)))")
                }
            }
            for directory in Set(targets.finals.map { ($0 as NSString).deletingLastPathComponent }) {
                try Fsync().sync(directory, isDirectory: true)
            }
        } catch {
            Self.remove(targets)
            throw error
        }
    }

    /// Removes every partial and final path of `targets` (a failed or interrupted materialize).
    static func remove(_ targets: VaultFileTargets) {
        for path in targets.partials + targets.finals { unlink(path) }
    }

    private func writePartials(_ targets: VaultFileTargets) throws(EngineError) {
        guard targets.disks.count == manifest.disks.count else {
            throw EngineError(.invalidInput, "the vault snapshot has \(manifest.disks.count) disks, \(targets.disks.count) targets given")
        }
        for (disk, target) in zip(manifest.disks, targets.disks) {
            progress?("restore \(disk.target)", 0)
            let index = try vault { () throws(VaultError) in try repository.diskIndex(disk.index) }
            let partial = ImageTool.partialPath(target.path)
            if target.format == "raw" { try writeRaw(index, to: partial) } else { try writeQcow2(index, to: partial) }
            try afterFirstFile()
        }
        if let ref = manifest.memory, let path = targets.memory {
            progress?("restore memory", nil)
            try writeStream(ref, to: ImageTool.partialPath(path))
        }
        if let ref = manifest.nvram, let path = targets.nvram {
            try writeStream(ref, to: ImageTool.partialPath(path))
        }
    }

    private func writeQcow2(_ index: DiskIndex, to partial: String) throws(EngineError) {
        unlink(partial)
        _ = try ImageTool.qemuImg(["create", "-q", "-f", "qcow2", ImageTool.operand(partial), String(index.virtualSize)])
        chmod(partial, 0o600)
        let export = try NBDExport(image: partial, format: "qcow2", access: .writable(cache: .unsafe))
        let sink = NBDBlockSink(client: export.client)
        try restore(index, into: sink, name: partial)
        try export.finish()
    }

    private func writeRaw(_ index: DiskIndex, to partial: String) throws(EngineError) {
        let fd = try Self.createFile(partial)
        defer { close(fd) }
        guard ftruncate(fd, off_t(index.virtualSize)) == 0 else {
            throw EngineError(.io, "cannot size \(partial): \(String(cString: strerror(errno)))")
        }
        try restore(index, into: FileBlockDevice(fd: fd), name: partial)
        guard fsync(fd) == 0 else { throw EngineError(.io, "cannot sync \(partial): \(String(cString: strerror(errno)))") }
    }

    private func restore(_ index: DiskIndex, into sink: any BlockSink, name: String) throws(EngineError) {
        let total = Double(max(index.allocatedBytes, 1))
        let progress = self.progress
        try vault { () throws(VaultError) in
            try repository.restoreDisk(index, into: sink) { written in progress?("restore \(name)", Double(written) / total) }
        }
    }

    private func writeStream(_ ref: VaultStreamRef, to partial: String) throws(EngineError) {
        let fd = try Self.createFile(partial)
        defer { close(fd) }
        try vault { () throws(VaultError) in try repository.restoreStream(try repository.streamIndex(ref.index), to: fd) }
        guard fsync(fd) == 0 else { throw EngineError(.io, "cannot sync \(partial): \(String(cString: strerror(errno)))") }
    }

    /// A new 0600 file; an existing one (a partial of a dead run) is replaced.
    static func createFile(_ path: String) throws(EngineError) -> Int32 {
        unlink(path)
        let fd = open(path, O_CREAT | O_EXCL | O_WRONLY | O_CLOEXEC, 0o600)
        guard fd >= 0 else { throw EngineError(.io, "cannot create \(path): \(String(cString: strerror(errno)))") }
        return fd
    }
}

/// A restore's writes into an NBD export.
struct NBDBlockSink: BlockSink {
    let client: NBDClient

    func write(offset: Int64, bytes: [UInt8]) throws(VaultError) {
        let result: Result<Void, EngineError> = bytes.withUnsafeBytes { buffer in
            Result { () throws(EngineError) in try client.write(at: offset, from: buffer) }
        }
        do { try result.get() } catch { throw .sink(error.message) }
    }
}
