import Foundation
import SnapshotCatalog
import SnapshotEngine
import Testing
import Vault

/// The moto server scripts/test.sh starts (scripts/lib/s3-peer.sh): its settings file.
enum S3TestPeer {
    static let envFile = ProcessInfo.processInfo.environment["KVMSNAP_S3_ENV"] ?? "/tmp/kvmsnap-s3-peer/env"

    static func settings() throws -> [String: String] {
        let text = try #require(
            try? String(contentsOfFile: envFile, encoding: .utf8), "no S3 peer (\(envFile)): scripts/test.sh starts one (scripts/lib/s3-peer.sh)")
        var v: [String: String] = [:]
        for line in text.split(separator: "\n") {
            if let eq = line.firstIndex(of: "=") { v[String(line[..<eq])] = String(line[line.index(after: eq)...]) }
        }
        return v
    }

    /// Writes an AWS credentials file (0600) for the `FULL` or `APPEND` user; returns its path.
    static func credentialsFile(_ user: String, in directory: String) throws -> String {
        let v = try settings()
        let path = "\(directory)/s3-\(user.lowercased()).credentials"
        let text = "[default]\naws_access_key_id = \(v["KVMSNAP_S3_\(user)_KEY"] ?? "")\naws_secret_access_key = \(v["KVMSNAP_S3_\(user)_SECRET"] ?? "")\n"
        #expect(FileManager.default.createFile(atPath: path, contents: Data(text.utf8), attributes: [.posixPermissions: 0o600]))
        return path
    }

    static func options(_ user: String, in directory: String) throws -> VaultOptions {
        VaultOptions(endpoint: try settings()["KVMSNAP_S3_ENDPOINT"], credentialsFile: try credentialsFile(user, in: directory), jobs: 8)
    }

    static func location() throws -> String {
        "s3://\(try settings()["KVMSNAP_S3_BUCKET"] ?? "")/it-\(UUID().uuidString.lowercased().prefix(8))"
    }
}

/// `vault add` of an S3 vault: refused inputs change nothing, a wrong secret writes nothing.
@Suite(.enabled(if: IntegrationEnvironment.available))
struct VaultS3AddTests {
    @Test func refusedS3AddsNameTheProblemAndRegisterAndWriteNothing() throws {
        let v = try S3TestPeer.settings()
        let dir = NSTemporaryDirectory() + "s3add-\(UUID().uuidString.prefix(8))"
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let cli = CLI(catalog: dir + "/c.sqlite", store: dir + "/store")
        let location = try S3TestPeer.location()
        let endpoint = try #require(v["KVMSNAP_S3_ENDPOINT"])

        let noEndpoint = try cli.run(["vault", "add", "v", location])
        #expect(noEndpoint.status == 64 && noEndpoint.stderr.contains("--endpoint"), "\(noEndpoint.stderr)")

        let readable = try S3TestPeer.credentialsFile("FULL", in: dir)
        chmod(readable, 0o644)
        let open = try cli.run(["vault", "add", "v", location, "--endpoint", endpoint, "--credentials-file", readable])
        #expect(open.status != 0 && open.stderr.contains("chmod 600"), "\(open.stderr)")

        let wrong = dir + "/wrong.credentials"
        let text = "[default]\naws_access_key_id = \(v["KVMSNAP_S3_FULL_KEY"] ?? "")\naws_secret_access_key = wrong\n"
        #expect(FileManager.default.createFile(atPath: wrong, contents: Data(text.utf8), attributes: [.posixPermissions: 0o600]))
        let refused = try cli.run(["vault", "add", "v", location, "--endpoint", endpoint, "--credentials-file", wrong])
        #expect(refused.status != 0 && refused.stderr.contains("SignatureDoesNotMatch") && refused.stderr.contains(location), "\(refused.stderr)")

        let listed = try cli.run(["vault", "list", "--json"])
        #expect(listed.status == 0 && (listed.json as? [Any])?.count == 0, "a refused add registered a vault: \(listed.stdout)")
        // Nothing reached the bucket under that prefix: a full-key add attaches nothing, it creates.
        chmod(readable, 0o600)
        let created = try cli.run(["vault", "add", "v", location, "--endpoint", endpoint, "--credentials-file", readable, "--json"])
        #expect(created.status == 0 && (created.json as? [String: Any])?["created"] as? Bool == true, "\(created.stdout)\(created.stderr)")
    }
}

/// Issue 13's disaster recovery with the vault in S3: three sends, the host dies, a fresh
/// catalog and store restore from the bucket (memory, counter and disks checked); then an
/// append-only key (no delete permission) sends and its cleanup deletes are reported, not fatal.
@Suite(.serialized, .enabled(if: IntegrationEnvironment.available))
struct VaultS3Tests {
    @Test func threeSendsToS3RestoreOnAFreshHostAndAnAppendOnlyKeySends() throws {
        let s = try VaultRestoreTests.Scenario(tag: "vs3", encrypted: false) { f in
            (try S3TestPeer.location(), try S3TestPeer.options("FULL", in: f.guest.directory))
        }
        let g = s.f.guest
        defer { s.f.destroy() }
        // The record keeps the endpoint and the credentials file's path, never the secret.
        let stored = try #require(try s.f.engine.vaultRecords().first)
        #expect(stored.options?.endpoint == s.vaultOptions.endpoint && stored.options?.credentialsFile == s.vaultOptions.credentialsFile)
        let secret = try S3TestPeer.settings()["KVMSNAP_S3_FULL_SECRET"] ?? "?"
        #expect(!(try String(contentsOfFile: s.f.catalogPath, encoding: .isoLatin1)).contains(secret))
        try s.disaster()

        // The new host holds only the append-only key: restore reads, send adds.
        let cli = CLI(catalog: g.directory + "/ao.sqlite", store: g.directory + "/ao-store")
        let engine = SnapshotEngine(connection: g.connection, catalog: try Catalog(path: cli.catalog), store: StoreLayout(root: cli.store))
        var add = VaultAddOptions(name: "v", location: s.vaultLocation)
        add.options = try S3TestPeer.options("APPEND", in: g.directory)
        #expect(try engine.addVault(add).created == false)

        let restored = try cli.run(["restore", "--from-vault", "v", g.name, "s2", "--json"])
        #expect(restored.status == 0, "\(restored.stderr)")
        try g.refresh()
        let s2 = try #require(s.counters["s2"])
        let first = try g.waitForFirstCounter()
        #expect(first >= s2 && first <= s2 + 2 && first < s.counterBeforeDisaster, "resumed at \(first); s2's disk held \(s2)")
        let layers = try s.importedLayers(cli, vm: g.name, snapshot: "s2")
        #expect(try ["vda", "vdb"].map { try contentDigest(try #require(layers[$0]), scratch: g.directory) } == s.digests["s2"])

        try g.waitForCounter(atLeast: first + 2)
        #expect(try cli.run(["create", g.name, "--name", "after-dr"]).status == 0)
        let sent = try cli.run(["send", g.name, "after-dr", "--to", "v", "--json"])
        #expect(sent.status == 0, "\(sent.stderr)")
        #expect(sent.stderr.contains("AccessDenied") && sent.stderr.contains("marks/send-"), "the refused cleanup is reported: \(sent.stderr)")
        let listed = try cli.run(["vault", "snapshots", "v", "--json"])
        #expect(listed.status == 0 && listed.stdout.contains("after-dr"), "\(listed.stdout)")
        let verify = try cli.run(["vault", "verify", "v"])
        #expect(verify.status == 0, "\(verify.stdout)\(verify.stderr)")

        // A send SIGKILLed halfway through its disks (full key, a new vault): the next send of that
        // snapshot resumes from its checkpoint and reads less than a whole send; the vault verifies.
        let full = try S3TestPeer.options("FULL", in: g.directory)
        func addFull(_ name: String) throws {
            let add = try cli.run([
                "vault", "add", name, try S3TestPeer.location(), "--endpoint", full.endpoint ?? "", "--credentials-file", full.credentialsFile ?? "",
            ])
            #expect(add.status == 0, "\(add.stderr)")
        }
        try addFull("kill")
        try cli.killAt("send.diskHalf", ["send", g.name, "after-dr", "--to", "kill"], marker: g.directory + "/s3kill.stalled")
        let resumed = try cli.run(["send", g.name, "after-dr", "--to", "kill", "--json"])
        #expect(resumed.status == 0, "\(resumed.stderr)")
        let report = try #require(resumed.json as? [String: Any], "\(resumed.stdout)")
        #expect(report["resumed"] as? Bool == true, "\(report)")
        try addFull("whole")
        let whole = try #require(try cli.run(["send", g.name, "after-dr", "--to", "whole", "--json"]).json as? [String: Any])
        let (read, wholeRead) = (report["bytesRead"] as? Int64 ?? -1, whole["bytesRead"] as? Int64 ?? -1)
        print("s3 vault: send killed halfway, resumed read \(read) B of \(wholeRead) B")
        #expect(read >= 0 && read < wholeRead, "resumed read \(read) B, a whole send \(wholeRead) B")
        let verifyKilled = try cli.run(["vault", "verify", "kill", "--read-data"])
        #expect(verifyKilled.status == 0, "\(verifyKilled.stdout)\(verifyKilled.stderr)")

        // The engine this process kept open while those kvmsnap processes restored, created and
        // sent (and importedLayers opened the catalog a second time) reads what they wrote.
        #expect(try engine.catalog.integrity() == .intact)
        #expect(try engine.snapshots(vm: g.name).1.map(\.record.name).contains("after-dr"))
    }
}
