import Foundation
import KVMSnapCore
import Testing
import Vault

@Suite("vault round trips")
struct VaultRoundTripTests {
    static let fastScrypt = ScryptParameters(logN: 10, r: 8, p: 1)

    @Test(arguments: [false, true])
    func diskAndMemoryRoundTrip(encrypted: Bool) throws {
        let dir = TempDir()
        let keyFile = Array(repeating: UInt8(7), count: 32)
        let repo = try VaultRepository.create(backend: try DirectoryBackend(root: dir.path), protection: encrypted ? .keyFile(keyFile) : nil)
        let disk = MemoryDisk(Data2.mixed(10 << 20 + 12345, seed: 1))
        let memory = Data2.mixed(3 << 20, seed: 2)
        try send(repo, disk, "s1", memory: memory)

        let reopened = try VaultRepository.open(backend: try DirectoryBackend(root: dir.path), key: encrypted ? .keyFile(keyFile) : nil)
        let m = try reopened.manifest(vmUUID: manifest("s1").vmUUID, snapshot: "s1")
        #expect(try restoreFirstDisk(reopened, m) == disk.bytes)
        let memRef = try #require(m.memory)
        #expect(try reopened.streamBytes(memRef) == memory)
        // Through a file descriptor as well.
        let path = "\(dir.path)/memory.out"
        let fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0o600)
        try reopened.restoreStream(try reopened.streamIndex(memRef.index), to: fd)
        close(fd)
        #expect(Array(try Data(contentsOf: URL(fileURLWithPath: path))) == memory)
        #expect(m.logicalBytes == Int64(disk.bytes.count + memory.count))
        #expect(try reopened.verify(readData: true).ok)
    }

    @Test func secondStoreOfSameDataAddsNoChunks() throws {
        let dir = TempDir()
        let repo = try VaultRepository.create(backend: try DirectoryBackend(root: dir.path), protection: nil)
        let disk = MemoryDisk(Data2.mixed(9 << 20, seed: 3))
        let memory = Data2.mixed(2 << 20, seed: 4)
        let (_, first) = try send(repo, disk, "s1", memory: memory)
        let before = chunkFiles(dir.path)
        let (m2, second) = try send(repo, disk, "s2", memory: memory)
        #expect(first.chunksNew > 0)
        #expect(second.chunksNew == 0)
        #expect(second.bytesStored == 0)
        #expect(m2.storedBytes == 0)
        #expect(chunkFiles(dir.path) == before)
        let listed = try repo.snapshots()
        #expect(listed.map(\.snapshot) == ["s1", "s2"])
        #expect(listed[1].storedBytes == 0 && listed[0].storedBytes > 0)
    }

    @Test func incrementalSendReadsOnlyChangedSlotsAndRestoresNewContents() throws {
        let dir = TempDir()
        let repo = try VaultRepository.create(backend: try DirectoryBackend(root: dir.path), protection: nil)
        let size = 32 << 20
        let disk = MemoryDisk(Data2.mixed(size, seed: 5))
        let (m1, _) = try send(repo, disk, "s1")
        // The guest writes 64 KiB at 9 MiB + 100.
        disk.bytes.replaceSubrange((9 << 20 + 100)..<(9 << 20 + 100 + 65536), with: Data2.mixed(65536, seed: 6))
        disk.reads = 0
        let changed = ByteRangeSet([ByteRange(offset: 9 << 20 + 100, length: 65536)])
        let plan = DiskChunkPlan(
            virtualSize: Int64(size), changed: changed,
            allocated: ByteRangeSet([ByteRange(offset: 0, length: Int64(size))]), previousVirtualSize: Int64(size))
        let session = try repo.beginSend()
        var m = manifest("s2")
        m.baseSnapshot = "s1"
        m.disks = [try session.storeDisk(target: "vda", format: "qcow2", from: disk, plan: plan, previous: try repo.diskIndex(m1.disks[0].index))]
        let m2 = try session.commit(m)
        // The 64 KiB lie inside one slot: exactly that slot is read.
        #expect(disk.reads == Int(repo.config.chunkSize))
        #expect(session.stats.bytesRead == repo.config.chunkSize)
        #expect(try restoreFirstDisk(repo, m2) == disk.bytes)
    }

    @Test func wrongKeyIsRefused() throws {
        let dir = TempDir()
        _ = try VaultRepository.create(backend: try DirectoryBackend(root: dir.path), protection: .passphrase("correct horse", Self.fastScrypt))
        let backend = try DirectoryBackend(root: dir.path)
        #expect(throws: VaultError.wrongKey) { try VaultRepository.open(backend: backend, key: .passphrase("wrong horse")) }
        #expect(throws: VaultError.wrongKey) { try VaultRepository.open(backend: backend, key: .keyFile(Array(repeating: 1, count: 32))) }
        #expect(throws: VaultError.wrongKey) { try VaultRepository.open(backend: backend, key: .masterKey(Array(repeating: 1, count: 64))) }
        let ok = try VaultRepository.open(backend: backend, key: .passphrase("correct horse"))
        // The paper key opens it too; a typo is caught by the checksum.
        let paper = try #require(ok.paperKey)
        let master = try PaperKey.decode(paper.lowercased())
        _ = try VaultRepository.open(backend: backend, key: .masterKey(master))
        var typo = Array(paper)
        let i = typo.firstIndex(where: { $0 != "-" && $0 != "A" })!
        typo[i] = typo[i] == "Z" ? "Y" : "Z"
        #expect(throws: VaultError.self) { try PaperKey.decode(String(typo)) }
        // Without a key: no reading, no sending.
        let keyless = try VaultRepository.open(backend: backend, key: nil)
        #expect(throws: VaultError.keyRequired) { try keyless.beginSend() }
    }

    @Test func encryptedChunksHoldNoPlaintext() throws {
        let dir = TempDir()
        let repo = try VaultRepository.create(backend: try DirectoryBackend(root: dir.path), protection: .keyFile(Array(repeating: 9, count: 32)))
        let pattern = Array("KVMSNAP-SECRET-PATTERN-0123456789".utf8)
        let disk = MemoryDisk((0..<(6 << 20)).map { pattern[$0 % pattern.count] })
        try send(repo, disk, "s1", memory: Array(disk.bytes.prefix(1 << 20)))
        let files = chunkFiles(dir.path)
        #expect(!files.isEmpty)
        for f in files + ["\(dir.path)/snapshots/\(manifest("s1").vmUUID)/s1.manifest"] {
            let content = Array(try Data(contentsOf: URL(fileURLWithPath: f)))
            #expect(!contains(content, Array(pattern.prefix(12))), "plaintext found in \(f)")
        }
        #expect(
            !contains(
                Array(try Data(contentsOf: URL(fileURLWithPath: "\(dir.path)/snapshots/\(manifest("s1").vmUUID)/s1.manifest"))),
                Array("<domain/>".utf8)))
        // Control: a plain vault's (compressed) chunks do show the pattern, so the search works.
        let plainDir = TempDir()
        let plain = try VaultRepository.create(backend: try DirectoryBackend(root: plainDir.path), protection: nil)
        try send(plain, disk, "s1")
        let found = try chunkFiles(plainDir.path).contains { contains(Array(try Data(contentsOf: URL(fileURLWithPath: $0))), Array(pattern.prefix(12))) }
        #expect(found)
    }

    func contains(_ hay: [UInt8], _ needle: [UInt8]) -> Bool {
        guard hay.count >= needle.count else { return false }
        for i in 0...(hay.count - needle.count) where hay[i] == needle[0] && Array(hay[i..<(i + needle.count)]) == needle { return true }
        return false
    }

    /// Memory images of an idle guest differ in a few scattered pages: CDC shares almost all chunks.
    @Test func memoryLikeStreamsShareAlmostAllChunks() throws {
        let dir = TempDir()
        let repo = try VaultRepository.create(backend: try DirectoryBackend(root: dir.path), protection: nil)
        let a = Data2.mixed(64 << 20, seed: 11)
        var b = a
        for k in 0..<6 { b.replaceSubrange((k * 10_700_001)..<(k * 10_700_001 + 4096), with: Data2.mixed(4096, seed: 100 + UInt64(k))) }
        // A migration stream is not page-aligned: shift everything by a small header change too.
        b.insert(contentsOf: [1, 2, 3], at: 17)
        let s1 = try repo.beginSend()
        _ = try s1.storeBlob(a)
        _ = try s1.commit(manifest("m1"))
        let s2 = try repo.beginSend()
        _ = try s2.storeBlob(b)
        _ = try s2.commit(manifest("m2"))
        let total = s2.stats.chunksNew + s2.stats.chunksReused
        // 7 edits touch at most 2 chunks each (plus the new index chunk).
        #expect(s2.stats.chunksNew <= 15, "new \(s2.stats.chunksNew) of \(total)")
        #expect(Double(s2.stats.bytesStored) < 0.25 * Double(s1.stats.bytesStored))
    }
}

@Suite("vault key files")
struct VaultKeyFileTests {
    @Test func keyFileIsPrivateAndOpensTheVault() throws {
        let dir = TempDir()
        let path = "\(dir.path)/vault.key"
        let key = VaultKeyFile.generate()
        try VaultKeyFile.write(key, to: path)
        #expect(throws: VaultError.alreadyExists(key: path)) { try VaultKeyFile.write(key, to: path) }
        let mode = try FileManager.default.attributesOfItem(atPath: path)[.posixPermissions] as? Int
        #expect(mode == 0o600)
        #expect(try VaultKeyFile.read(from: path) == key)
        chmod(path, 0o644)
        #expect(throws: VaultError.self) { try VaultKeyFile.read(from: path) }
        let vaultDir = "\(dir.path)/v"
        _ = try VaultRepository.create(backend: try DirectoryBackend(root: vaultDir, create: true), protection: .keyFile(key))
        _ = try VaultRepository.open(backend: try DirectoryBackend(root: vaultDir), key: .keyFile(key))
    }
}
