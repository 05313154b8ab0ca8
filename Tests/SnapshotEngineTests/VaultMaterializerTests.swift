import Foundation
import KVMSnapCore
import Testing
import Vault

@testable import SnapshotEngine

/// Materializing a vault snapshot into files (no libvirt): contents, holes, and a damaged chunk
/// leaving nothing behind.
@Suite(.enabled(if: ExternalProcess.resolve("qemu-nbd") != nil))
struct VaultMaterializerTests {
    /// A vault with one 24 MiB disk: random data in slots 1 and 4, zeros elsewhere; and a memory stream.
    struct Fixture {
        let directory: String
        let repository: VaultRepository
        let manifest: VaultManifest
        let disk: [UInt8]
        let memory: [UInt8]

        init() throws {
            var template = Array("/tmp/kvmsnap-vmat-XXXXXX".utf8CString)
            let made = try #require(template.withUnsafeMutableBufferPointer { mkdtemp($0.baseAddress!) })
            directory = String(cString: made)
            repository = try VaultRepository.create(backend: try DirectoryBackend(root: directory + "/vault", create: true), protection: nil)
            var disk = [UInt8](repeating: 0, count: 24 << 20)
            for slot in [1, 4] { for i in 0..<(4 << 20) { disk[slot * (4 << 20) + i] = UInt8.random(in: 0...255) } }
            self.disk = disk
            memory = (0..<(3 << 20)).map { _ in UInt8.random(in: 0...255) }
            let path = directory + "/source.raw"
            FileManager.default.createFile(atPath: path, contents: Data(disk))
            let fd = open(path, O_RDONLY)
            defer { close(fd) }
            let session = try repository.beginSend()
            let size = Int64(disk.count)
            let plan = DiskChunkPlan(
                virtualSize: size, changed: ByteRangeSet(), allocated: ByteRangeSet([ByteRange(offset: 0, length: size)]),
                previousVirtualSize: nil)
            var m = VaultManifest(
                vm: "g", vmUUID: "6f1c9a52-0000-4000-8000-0000000000aa", snapshot: "s", kind: "memory", createdAt: Date(), host: "h",
                kvmsnapVersion: "t", hasMemory: true, domainXML: "<domain/>")
            m.disks = [try session.storeDisk(target: "vda", format: "raw", from: FileBlockDevice(fd: fd), plan: plan, previous: nil)]
            m.memory = try session.storeBlob(memory)
            manifest = try session.commit(m)
        }

        func targets(_ format: String) -> VaultFileTargets {
            VaultFileTargets(
                disks: [.init(target: "vda", path: directory + "/out-vda.\(format)", format: format)], memory: directory + "/out.mem",
                nvram: nil)
        }

        func remove() { try? FileManager.default.removeItem(atPath: directory) }
    }

    @Test(arguments: ["qcow2", "raw"]) func writesTheDiskAndMemoryAndLeavesHolesUnallocated(format: String) throws {
        let f = try Fixture()
        defer { f.remove() }
        let targets = f.targets(format)
        try VaultMaterializer(repository: f.repository, manifest: f.manifest).materialize(targets)
        let raw = f.directory + "/check.raw"
        _ = try ImageTool.qemuImg(["convert", "-f", format, "-O", "raw", targets.disks[0].path, raw])
        #expect([UInt8](try Data(contentsOf: URL(fileURLWithPath: raw))) == f.disk)
        #expect([UInt8](try Data(contentsOf: URL(fileURLWithPath: targets.memory!))) == f.memory)
        // Two 4 MiB slots written; the four zero slots stay holes.
        #expect(ImageTool.allocatedBytes(targets.disks[0].path) < 10 << 20, "\(ImageTool.allocatedBytes(targets.disks[0].path)) bytes allocated")
        #expect(targets.partials.allSatisfy { !FileManager.default.fileExists(atPath: $0) })
    }

    @Test func aDamagedChunkLeavesNoFileAndIsNamed() throws {
        let f = try Fixture()
        defer { f.remove() }
        let index = try f.repository.diskIndex(f.manifest.disks[0].index)
        let victim = try #require(index.slots.first { !$0.isZero })
        let path = f.directory + "/vault/" + VaultLayout.chunk(victim)
        var bytes = [UInt8](try Data(contentsOf: URL(fileURLWithPath: path)))
        bytes[bytes.count - 1] ^= 1
        try Data(bytes).write(to: URL(fileURLWithPath: path))
        let targets = f.targets("qcow2")
        #expect { try VaultMaterializer(repository: f.repository, manifest: f.manifest).materialize(targets) } throws: { error in
            (error as? EngineError)?.message.contains(victim.hex) == true
        }
        for path in targets.finals + targets.partials { #expect(!FileManager.default.fileExists(atPath: path), "\(path) left behind") }
    }
}
