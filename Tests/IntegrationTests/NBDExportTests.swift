import Foundation
import KVMSnapCore
import SnapshotEngine
import Testing

/// The vault's engine-side I/O on real images: qemu-nbd exports read through ``NBDClient``,
/// writes into a new qcow2, `qemu-img map` ranges, and no qemu-nbd left behind. No guest.
@Suite(.serialized, .enabled(if: ExternalProcess.resolve("qemu-nbd") != nil))
struct NBDExportTests {
    static let size = 64 << 20
    static let cluster: Int64 = 65536

    /// A scratch directory with base → overlay1 → overlay2 (64 MiB, 64 KiB clusters) holding
    /// known patterns; `top` is overlay2.
    final class Chain {
        let directory: String
        var base: String { directory + "/base.qcow2" }
        var overlay1: String { directory + "/overlay1.qcow2" }
        var top: String { directory + "/overlay2.qcow2" }

        init() throws {
            directory = "/tmp/kvmsnap-nbdtest-\(UUID().uuidString.prefix(8).lowercased())"
            try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: false)
            try TestGuest.run("qemu-img", ["create", "-q", "-f", "qcow2", base, "\(NBDExportTests.size)"])
            try Self.io(base, ["write -P 0x11 0 1M", "write -P 0x12 10M 64k", "write -P 0x13 30M 64k"])
            try TestGuest.run("qemu-img", ["create", "-q", "-f", "qcow2", "-b", base, "-F", "qcow2", overlay1])
            try Self.io(overlay1, ["write -P 0x21 512k 4k", "write -P 0x22 20M 128k"])
            try TestGuest.run("qemu-img", ["create", "-q", "-f", "qcow2", "-b", overlay1, "-F", "qcow2", top])
            // Overlay 2 touches cluster 0 (512 bytes), clusters 480-481 (an unaligned 70000 bytes
            // from 30M+100) and zeroes cluster 640 (40M).
            try Self.io(top, ["write -P 0x31 4096 512", "write -P 0x32 31457380 70000", "write -z 40M 64k"])
        }

        static func io(_ image: String, _ commands: [String]) throws {
            try TestGuest.run("qemu-io", ["-f", "qcow2"] + commands.flatMap { ["-c", $0] } + [image])
        }

        /// What qemu-img itself reads from `image`: the oracle.
        func raw(_ image: String) throws -> [UInt8] {
            let out = directory + "/oracle.raw"
            defer { unlink(out) }
            try TestGuest.run("qemu-img", ["convert", "-U", "-O", "raw", image, out])
            return [UInt8](try Data(contentsOf: URL(fileURLWithPath: out)))
        }

        func remove() { try? FileManager.default.removeItem(atPath: directory) }
    }

    /// qemu-nbd processes whose command line mentions `text`.
    static func qemuNBDProcesses(mentioning text: String) -> [Int32] {
        let entries = (try? FileManager.default.contentsOfDirectory(atPath: "/proc")) ?? []
        return entries.compactMap { entry -> Int32? in
            guard let pid = Int32(entry), let data = FileManager.default.contents(atPath: "/proc/\(entry)/cmdline") else { return nil }
            let line = String(decoding: data.map { $0 == 0 ? 32 : $0 }, as: UTF8.self)
            return line.contains("qemu-nbd") && line.contains(text) ? pid : nil
        }
    }

    static func read(_ export: NBDExport, count: Int) throws -> [UInt8] {
        var bytes = [UInt8](repeating: 0xEE, count: count)
        try bytes.withUnsafeMutableBytes { try export.client.read(at: 0, into: $0) }
        return bytes
    }

    @Test func readOfTheTopEqualsQemuImgConvertByteForByte() throws {
        let chain = try Chain()
        defer { chain.remove() }
        let oracle = try chain.raw(chain.top)
        for (requestBytes, depth) in [(4 << 20, 1), (256 << 10, 8), (32 << 20, 2)] {
            let export = try NBDExport(image: chain.top, access: .readOnly(forceShare: false))
            #expect(export.client.exportSize == Int64(Self.size))
            #expect(export.client.isReadOnly)
            export.client.requestBytes = requestBytes
            export.client.queueDepth = depth
            let bytes = try Self.read(export, count: Self.size)
            #expect(bytes == oracle, "requests of \(requestBytes) bytes, \(depth) in flight")
            // An unaligned small read inside overlay 2's unaligned write.
            var piece = [UInt8](repeating: 0, count: 1000)
            try piece.withUnsafeMutableBytes { try export.client.read(at: 31_457_380 - 500, into: $0) }
            #expect(piece == Array(oracle[(31_457_380 - 500)..<(31_457_380 + 500)]))
            let pid = export.pid
            try export.finish()
            #expect(kill(pid, 0) != 0, "qemu-nbd \(pid) still exists after finish")
        }
        #expect(Self.qemuNBDProcesses(mentioning: chain.directory).isEmpty)
    }

    @Test func outOfRangeAndReadOnlyWritesAreRefusedAndTheConnectionStaysUsable() throws {
        let chain = try Chain()
        defer { chain.remove() }
        let export = try NBDExport(image: chain.top, access: .readOnly(forceShare: false))
        var buffer = [UInt8](repeating: 0, count: 4096)
        #expect(throws: EngineError.self) {
            try buffer.withUnsafeMutableBytes { try export.client.read(at: Int64(Self.size) - 100, into: $0) }
        }
        #expect(throws: EngineError.self) { try buffer.withUnsafeBytes { try export.client.write(at: 0, from: $0) } }
        try buffer.withUnsafeMutableBytes { try export.client.read(at: 0, into: $0) }
        #expect(buffer.allSatisfy { $0 == 0x11 })
    }

    @Test func changedRangesOfOverlay2CoverExactlyItsWritesAlignedToClusters() throws {
        let chain = try Chain()
        defer { chain.remove() }
        let c = Self.cluster
        #expect(
            try ImageTool.map(chain.top).ownRanges == [
                ImageRange(start: 0, length: c), ImageRange(start: 480 * c, length: 2 * c), ImageRange(start: 640 * c, length: c),
            ])
        #expect(
            try ImageTool.map(chain.overlay1).ownRanges == [
                ImageRange(start: 8 * c, length: c), ImageRange(start: 320 * c, length: 2 * c),
            ])
        // Allocated data of the whole chain (the zeroed cluster 640 is not data).
        #expect(
            try ImageTool.map(chain.top).dataRanges == [
                ImageRange(start: 0, length: 16 * c), ImageRange(start: 160 * c, length: c), ImageRange(start: 320 * c, length: 2 * c),
                ImageRange(start: 480 * c, length: 2 * c),
            ])
    }

    @Test func writesThroughAWritableExportMakeAnImageQemuImgCompareFindsEqual() throws {
        let chain = try Chain()
        defer { chain.remove() }
        let oracle = try chain.raw(chain.top)
        let restored = chain.directory + "/restored.qcow2"
        try TestGuest.run("qemu-img", ["create", "-q", "-f", "qcow2", restored, "\(Self.size)"])
        let export = try NBDExport(image: restored, access: .writable(cache: .unsafe))
        #expect(!export.client.isReadOnly)
        export.client.requestBytes = 1 << 20
        export.client.queueDepth = 4
        // Only what is allocated is written; the rest of a new qcow2 already reads as zeroes.
        for range in try ImageTool.map(chain.top).dataRanges {
            try oracle.withUnsafeBytes { all in
                try export.client.write(at: range.start, from: UnsafeRawBufferPointer(rebasing: all[Int(range.start)..<Int(range.end)]))
            }
        }
        try export.client.flush()
        let pid = export.pid
        try export.finish()
        #expect(kill(pid, 0) != 0)
        let compare = try ExternalProcess.run("qemu-img", ["compare", "-f", "qcow2", "-F", "qcow2", chain.top, restored])
        #expect(compare.status == 0, "\(compare.standardOutput) \(compare.standardError)")
        #expect(try chain.raw(restored) == oracle)
    }

    @Test func anExportDroppedWithoutFinishStopsItsQemuNBD() throws {
        let chain = try Chain()
        defer { chain.remove() }
        var pid: pid_t = 0
        do {
            let export = try NBDExport(image: chain.top, access: .readOnly(forceShare: false))
            pid = export.pid
            #expect(kill(pid, 0) == 0)
        }
        #expect(kill(pid, 0) != 0, "qemu-nbd \(pid) outlived its NBDExport")
        #expect(Self.qemuNBDProcesses(mentioning: chain.directory).isEmpty)
    }

    @Test func anImageQemuNBDCannotOpenFailsWithItsMessageAndLeavesNothing() throws {
        let missing = "/tmp/kvmsnap-nbdtest-missing-\(UUID().uuidString.prefix(8)).qcow2"
        #expect {
            _ = try NBDExport(image: missing, access: .readOnly(forceShare: false))
        } throws: { error in
            (error as? EngineError)?.message.contains("No such file") == true
        }
        #expect(Self.qemuNBDProcesses(mentioning: missing).isEmpty)
    }
}
