import Foundation
import KVMSnapCore
import Testing
import Vault

/// `vault add` refusals, damaged manifests and `vault extract` clean-up, seen from the command
/// line (exit code, stdout/stderr, files on disk). Needs no guest: the catalog is reached over
/// test:///default and the vault's manifests are written with the Vault module.
@Suite struct VaultAdminRefusalTests {
    struct Setup {
        let dir = FileManager.default.temporaryDirectory.path + "/kvmsnap-vaultadmin-\(UUID().uuidString.prefix(8))"
        func kvmsnap(_ args: [String]) throws -> CLI.Result {
            try CLI.runBare(args + ["--connect", "test:///default", "--catalog", dir + "/catalog.sqlite", "--store", dir + "/store"])
        }
        func vaultNames() throws -> [String] {
            let listed = try kvmsnap(["vault", "list", "--json"])
            return ((listed.json as? [[String: Any]]) ?? []).compactMap { $0["name"] as? String }
        }
        func exists(_ path: String) -> Bool { FileManager.default.fileExists(atPath: path) }
    }

    @Test func addRefusesABadKeyFileBeforeCreatingAnything() throws {
        let s = Setup()
        try FileManager.default.createDirectory(atPath: s.dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: s.dir) }
        let short = s.dir + "/short.key", open = s.dir + "/open.key", huge = s.dir + "/huge.key"
        FileManager.default.createFile(atPath: short, contents: Data(repeating: 1, count: 5), attributes: [.posixPermissions: 0o600])
        FileManager.default.createFile(atPath: open, contents: Data(repeating: 1, count: 32), attributes: [.posixPermissions: 0o755])
        FileManager.default.createFile(atPath: huge, contents: nil, attributes: [.posixPermissions: 0o600])
        let handle = try #require(FileHandle(forWritingAtPath: huge))
        try handle.truncate(atOffset: 4 << 30)  // sparse: 4 GiB that a bounded read never touches
        try handle.close()
        for (key, says) in [(short, "exactly 32 or 64 bytes"), (open, "accessible by others"), (huge, "exactly 32 or 64 bytes")] {
            let target = s.dir + "/vault-\((key as NSString).lastPathComponent)"
            let started = ContinuousClock.now
            let refused = try s.kvmsnap(["vault", "add", "v", target, "--key-file", key])
            #expect(refused.status == 64, "\(key): \(refused.stderr)")
            #expect(refused.stderr.contains(says) && refused.stderr.contains("nothing was changed"), "\(refused.stderr)")
            #expect(!s.exists(target), "a refused add left \(target)")
            #expect(ContinuousClock.now - started < .seconds(10))
        }
        #expect(try s.vaultNames().isEmpty)
    }

    @Test func addRefusesALocationInsideOrAroundAVault() throws {
        let s = Setup()
        try FileManager.default.createDirectory(atPath: s.dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: s.dir) }
        let outer = s.dir + "/v1"
        #expect(try s.kvmsnap(["vault", "add", "v1", outer]).status == 0)
        try FileManager.default.createSymbolicLink(atPath: s.dir + "/link", withDestinationPath: outer)
        let attempts: [(String, String)] = [
            (outer + "/chunks", "is inside vault 'v1'"), (s.dir + "/link/new", "is inside vault 'v1'"), (s.dir, "contains vault 'v1'"),
        ]
        for (location, says) in attempts {
            let refused = try s.kvmsnap(["vault", "add", "v2", location])
            #expect(refused.status == 64 && refused.stderr.contains(says), "\(location): \(refused.status) \(refused.stderr)")
        }
        #expect(!s.exists(outer + "/chunks/config") && !s.exists(outer + "/new"))
        // A vault on disk that this catalog no longer names is still found through its config.
        #expect(try s.kvmsnap(["vault", "remove", "v1"]).status == 0)
        let inner = try s.kvmsnap(["vault", "add", "v3", outer + "/pins"])
        #expect(inner.status == 64 && inner.stderr.contains("is inside the vault at \(outer)"), "\(inner.stderr)")
        #expect(!s.exists(outer + "/pins"))
        #expect(try s.vaultNames().isEmpty)
        // The same directory is attached again (not nesting).
        #expect(try s.kvmsnap(["vault", "add", "v1", outer]).stdout.contains("attached vault v1"))
    }

    @Test func addRefusesAnS3RegionWithControlCharacters() throws {
        let s = Setup()
        try FileManager.default.createDirectory(atPath: s.dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: s.dir) }
        let refused = try s.kvmsnap(["vault", "add", "s", "s3://bucket/p", "--endpoint", "http://127.0.0.1:9", "--region", "x\r\ny"])
        #expect(refused.status == 64 && refused.stderr.contains("--region must be"), "\(refused.stderr)")
        #expect(try s.vaultNames().isEmpty)
    }
}
