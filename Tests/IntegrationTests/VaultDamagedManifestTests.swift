import Foundation
import KVMSnapCore
import Testing
import Vault

/// One damaged manifest does not hide the good ones; gc still deletes nothing while it is there;
/// `vault forget --damaged` drops it (and only a damaged one). A failed extract leaves no
/// directory. Needs no guest: the manifests are written with the Vault module.
@Suite struct VaultDamagedManifestTests {
    static let uuid = "6f1c9a52-0000-4000-8000-0000000000d1"

    /// A plain vault `v` with snapshots s1 and s2 of VM `guest` (each a small memory blob).
    static func vaultWithTwoSnapshots(_ s: VaultAdminRefusalTests.Setup) throws -> String {
        let vaultDir = s.dir + "/vault"
        #expect(try s.kvmsnap(["vault", "add", "v", vaultDir]).status == 0)
        let repository = try VaultRepository.open(backend: try DirectoryBackend(root: vaultDir), key: nil)
        for (i, name) in ["s1", "s2"].enumerated() {
            let session = try repository.beginSend()
            var m = VaultManifest(
                vm: "guest", vmUUID: uuid, snapshot: name, kind: "disk-only", createdAt: Date(timeIntervalSince1970: 1_700_000_000 + Double(i)),
                host: "testhost", kvmsnapVersion: "test", hasMemory: true, domainXML: "<domain/>")
            m.memory = try session.storeBlob(Array(repeating: UInt8(i + 1), count: 100_000))
            _ = try session.commit(m)
        }
        return vaultDir
    }

    @Test func aDamagedManifestIsReportedAndTheOthersStillWork() throws {
        let s = VaultAdminRefusalTests.Setup()
        try FileManager.default.createDirectory(atPath: s.dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: s.dir) }
        let vaultDir = try Self.vaultWithTwoSnapshots(s)
        let damaged = "\(vaultDir)/snapshots/\(Self.uuid)/s1.manifest", good = "\(vaultDir)/snapshots/\(Self.uuid)/s2.manifest"
        try FileHandle(forWritingAtPath: damaged).map {
            try $0.truncate(atOffset: 20); try $0.close()
        }
        let hint = "kvmsnap vault forget v \(Self.uuid) s1 --damaged"

        let listed = try s.kvmsnap(["vault", "snapshots", "v"])
        #expect(listed.status == 1 && listed.stdout.contains("s2") && !listed.stdout.contains("s1"), "\(listed.stdout)")
        #expect(listed.stderr.contains("snapshots/\(Self.uuid)/s1.manifest") && listed.stderr.contains(hint), "\(listed.stderr)")
        let json = try s.kvmsnap(["vault", "snapshots", "v", "--json"])
        #expect(json.status == 1 && (json.json as? [[String: Any]])?.compactMap { $0["snapshot"] as? String } == ["s2"], "\(json.stdout)")

        let prune = try s.kvmsnap(["vault", "prune", "v", "--keep-last", "1", "--dry-run"])
        #expect(prune.status == 1 && prune.stdout.contains("s2") && prune.stderr.contains(hint), "\(prune.stdout)\(prune.stderr)")

        let gc = try s.kvmsnap(["vault", "gc", "v", "--grace", "0"])
        #expect(gc.status != 0 && gc.stderr.contains("gc deletes nothing") && gc.stderr.contains(hint), "\(gc.stderr)")
        let chunksBefore = FileManager.default.enumerator(atPath: vaultDir + "/chunks")?.allObjects.count ?? 0

        let readable = try s.kvmsnap(["vault", "forget", "v", Self.uuid, "s2", "--damaged"])
        #expect(readable.status == 64 && readable.stderr.contains("reads fine"), "\(readable.stderr)")
        #expect(s.exists(good))
        #expect(try s.kvmsnap(["vault", "forget", "v", Self.uuid, "s1"]).status == 64)
        #expect(s.exists(damaged))

        let forgot = try s.kvmsnap(["vault", "forget", "v", Self.uuid, "s1", "--damaged"])
        #expect(forgot.status == 0 && forgot.stdout.contains("deleted damaged manifest"), "\(forgot.stderr)")
        #expect(!s.exists(damaged) && s.exists(good))
        #expect(FileManager.default.enumerator(atPath: vaultDir + "/chunks")?.allObjects.count ?? 0 == chunksBefore)
        let after = try s.kvmsnap(["vault", "snapshots", "v"])
        #expect(after.status == 0 && after.stderr.isEmpty, "\(after.stderr)")
        let gcAfter = try s.kvmsnap(["vault", "gc", "v", "--grace", "0"])
        #expect(gcAfter.status == 0 && gcAfter.stdout.contains("deleted"), "\(gcAfter.stdout)\(gcAfter.stderr)")
    }

    @Test func aFailedExtractLeavesNoDirectoryItMade() throws {
        let s = VaultAdminRefusalTests.Setup()
        try FileManager.default.createDirectory(atPath: s.dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: s.dir) }
        let vaultDir = try Self.vaultWithTwoSnapshots(s)
        // Every data chunk damaged (the index stays readable): the extract fails while writing,
        // after it made its directory.
        let repository = try VaultRepository.open(backend: try DirectoryBackend(root: vaultDir), key: nil)
        let index = VaultLayout.chunk(try #require(try repository.manifest(vmUUID: Self.uuid, snapshot: "s2").memory).index)
        var damaged = 0
        for case let path as String in FileManager.default.enumerator(atPath: vaultDir + "/chunks")?.allObjects ?? []
        where path.count > 60 && "chunks/\(path)" != index {
            try Data(repeating: 0x5a, count: 64).write(to: URL(fileURLWithPath: "\(vaultDir)/chunks/\(path)"))
            damaged += 1
        }
        #expect(damaged > 0)
        let target = s.dir + "/out/deeper"
        let failed = try s.kvmsnap(["vault", "extract", "v", "guest", "s2", "--to", target])
        #expect(failed.status != 0 && failed.stderr.contains("corrupt chunk"), "\(failed.stderr)")
        #expect(!s.exists(s.dir + "/out"), "a failed extract left \(s.dir)/out")
    }
}
