import Foundation
import KVMSnapCore
import SnapshotEngine
import Testing
import Vault

/// `send` through the CLI against a running test guest: incremental figures, encryption.
@Suite(.serialized, .enabled(if: IntegrationEnvironment.available))
struct VaultSendTests {
    static let mib: Int64 = 1 << 20

    /// The issue's figures: s1 (full), 32 MiB written, s2, 8 MiB written, s3; each later send
    /// reads about what the guest wrote plus the memory image, and the vault grows by about
    /// what was written plus the new memory chunks. The vault has the default 1 MiB slots: the
    /// guest writes from offset 1 MiB, so 4 MiB slots would add a partial slot at each end.
    @Test func incrementalSendsReadAndStoreAboutWhatTheGuestWrote() throws {
        let fixture = try EngineFixture(tag: "vsend", diskMiB: [64, 128])
        defer { fixture.destroy() }
        let cli = CLI(fixture), vm = fixture.guest.name, vaultDir = fixture.guest.directory + "/vault"
        let add = try cli.run(["vault", "add", "v", vaultDir])
        #expect(add.status == 0, "\(add.stderr)")
        try fixture.guest.waitForCounter(atLeast: 1)
        try expectOK(cli.run(["create", vm, "--name", "s1"]))
        try fixture.guest.guestWrite(mib: 32, tag: "w32")
        try expectOK(cli.run(["create", vm, "--name", "s2"]))
        try fixture.guest.guestWrite(mib: 8, tag: "w8")
        try expectOK(cli.run(["create", vm, "--name", "s3"]))

        let written: [Int64] = [0, 32 * Self.mib, 8 * Self.mib]
        let repository = try VaultRepository.open(backend: try DirectoryBackend(root: vaultDir), key: nil)
        let uuid = try fixture.engine.catalogVM(vm).uuid
        var reports: [[String: Any]] = []
        for (i, name) in ["s1", "s2", "s3"].enumerated() {
            let before = Self.chunkFiles(vaultDir)
            let result = try cli.run(["send", vm, name, "--to", "v", "--json"])
            try #require(result.status == 0, "send \(name): \(result.stderr)")
            let report = try #require(result.json as? [String: Any])
            reports.append(report)
            let after = Self.chunkFiles(vaultDir)
            let grown = after.filter { before[$0.key] == nil }
            let manifest = try repository.manifest(vmUUID: uuid, snapshot: name)
            let memoryIDs = try manifest.memory.map { [$0.index] + (try repository.streamIndex($0.index).entries.map(\.id)) } ?? []
            let memoryNew = memoryIDs.reduce(Int64(0)) { $0 + (grown[$1.hex] ?? 0) }
            let memorySize = manifest.memory?.size ?? 0
            let read = report["bytesRead"] as? Int64 ?? -1, stored = report["bytesStored"] as? Int64 ?? -1
            let diskGrowth = grown.values.reduce(0, +) - memoryNew
            print(
                "vault figures \(name): wrote \(written[i] / Self.mib) MiB, read \(read) B (memory image \(memorySize) B), "
                    + "stored \(stored) B (new memory chunks \(memoryNew) B, disks \(diskGrowth) B), "
                    + "\(report["seconds"] ?? "?") s, base \(report["baseSnapshot"] ?? "nil")")
            #expect(stored == grown.values.reduce(0, +), "bytesStored is what the chunk files grew by")
            guard i > 0 else {
                #expect(report["baseSnapshot"] is NSNull)
                #expect((report["fullReadReason"] as? String)?.isEmpty == false)
                continue
            }
            #expect(report["baseSnapshot"] as? String == ["s1", "s2", "s3"][i - 1])
            // The guest also rewrites its counter in sector 0 of both disks: one chunk each.
            let counterSlots = 2 * Self.mib
            #expect(Double(read) <= 1.1 * Double(written[i]) + Double(counterSlots + memorySize), "send \(name) read \(read)")
            #expect(Double(diskGrowth) <= 1.2 * Double(written[i]) + Double(counterSlots), "send \(name) stored \(diskGrowth) for disks")
        }
        let verify = try cli.run(["vault", "verify", "v", "--read-data", "--json"])
        #expect(verify.status == 0 && (verify.json as? [String: Any])?["ok"] as? Bool == true, "\(verify.stdout)")
        let listed = try #require(try cli.run(["vault", "snapshots", "v", "--json"]).json as? [[String: Any]])
        #expect(listed.map { $0["snapshot"] as? String } == ["s1", "s2", "s3"])
        #expect(listed.allSatisfy { $0["vmUUID"] as? String == uuid && $0["hasMemory"] as? Bool == true && $0["pinned"] as? Bool == false })

        // What a person sees, and the refusals.
        let table = try cli.run(["vault", "snapshots", "v", vm])
        #expect(table.status == 0 && table.stdout.contains("BASE") && table.stdout.contains("s3"), "\(table.stdout)")
        let again = try cli.run(["send", vm, "s2", "--to", "v"])
        #expect(again.status == 3 && again.stderr.contains("holds") && again.stderr.split(separator: "\n").count == 1, "\(again.stderr)")
        let unknown = try cli.run(["send", vm, "s2", "--to", "nowhere"])
        #expect(unknown.status == 2, "\(unknown.stderr)")
        try expectOK(cli.run(["vault", "pin", "v", vm, "s1"]))
        let plan = try #require(try cli.run(["vault", "prune", "v", "--keep-last", "1", "--dry-run", "--json"]).json as? [[String: Any]])
        #expect(plan.map { "\($0["snapshot"] ?? "")=\($0["action"] ?? "")" } == ["s1=keep", "s2=prune", "s3=keep"], "\(plan)")
        let noKey = try cli.run(["vault", "key", "export", "v", "--paper"])
        #expect(noKey.status == 64, "a plain vault has no key: \(noKey.stderr)")
        let gc = try cli.run(["vault", "gc", "v"])
        #expect(gc.status == 0 && gc.stdout.contains("deleted 0 chunks"), "\(gc.stdout)\(gc.stderr)")
        let vaults = try cli.run(["vault", "list"])
        #expect(vaults.status == 0 && vaults.stdout.contains(vaultDir), "\(vaults.stdout)")
    }

    /// An encrypted vault: the guest's counter text never appears in a chunk file, and another
    /// key is refused with one clear line.
    @Test func encryptedVaultHoldsNoPlaintextAndRefusesAWrongKey() throws {
        let fixture = try EngineFixture(tag: "vsendenc", diskMiB: [64, 64])
        defer { fixture.destroy() }
        let cli = CLI(fixture), vm = fixture.guest.name, vaultDir = fixture.guest.directory + "/vault"
        let add = try cli.run(["vault", "add", "e", vaultDir, "--encrypt"])
        #expect(add.status == 0 && add.stdout.contains("paper key"), "\(add.stdout)\(add.stderr)")
        try fixture.guest.waitForCounter(atLeast: 2)
        try expectOK(cli.run(["create", vm, "--name", "s1"]))
        let imageHasCounter = try Data(contentsOf: URL(fileURLWithPath: fixture.guest.diskPaths[0])).range(of: Data("KVMSNAP-COUNTER".utf8)) != nil
        #expect(imageHasCounter, "the source image holds the pattern (else the check below proves nothing)")
        try expectOK(cli.run(["send", vm, "s1", "--to", "e"]))
        let pattern = Data("KVMSNAP-COUNTER".utf8)
        let leaking = Self.chunkFiles(vaultDir).keys.filter { id in
            (try? Data(contentsOf: URL(fileURLWithPath: "\(vaultDir)/chunks/\(id.prefix(2))/\(id)")))?.range(of: pattern) != nil
        }
        #expect(leaking.isEmpty, "chunks with plaintext: \(leaking)")
        let wrongKey = fixture.guest.directory + "/wrong.key"
        FileManager.default.createFile(
            atPath: wrongKey, contents: Data((0..<32).map { _ in UInt8.random(in: 0...255) }), attributes: [.posixPermissions: 0o600])
        let refused = try cli.run(["vault", "add", "e2", vaultDir, "--key-file", wrongKey])
        #expect(refused.status == 64, "\(refused.stderr)")
        #expect(refused.stderr.lowercased().contains("key") && refused.stderr.split(separator: "\n").count == 1, "\(refused.stderr)")
        let verify = try cli.run(["vault", "verify", "e", "--read-data"])
        #expect(verify.status == 0, "\(verify.stdout)\(verify.stderr)")
    }

    // MARK: helpers

    /// Chunk file name → size.
    static func chunkFiles(_ vault: String) -> [String: Int64] {
        var out: [String: Int64] = [:]
        let root = vault + "/chunks"
        for case let path as String in FileManager.default.enumerator(atPath: root)?.allObjects ?? [] {
            let name = (path as NSString).lastPathComponent
            guard name.count == 64, let attributes = try? FileManager.default.attributesOfItem(atPath: "\(root)/\(path)"),
                attributes[.type] as? FileAttributeType == .typeRegular
            else { continue }
            out[name] = (attributes[.size] as? NSNumber)?.int64Value ?? 0
        }
        return out
    }
}

func expectOK(_ result: CLI.Result, sourceLocation: SourceLocation = #_sourceLocation) {
    #expect(result.status == 0, "\(result.stdout)\(result.stderr)", sourceLocation: sourceLocation)
}
