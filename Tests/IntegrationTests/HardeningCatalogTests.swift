import Foundation
import SnapshotCatalog
import SnapshotEngine
import Testing

/// Issue 10, items 6, 12, 13, 16, 17, 22 (read-only catalog) and 23: what is at the catalog,
/// store and metrics paths is kvmsnap's or is refused untouched; refusals change nothing; a
/// vanished VM can be forgotten.
enum Hardening {
    /// SQLite `application_id` of kvmsnap catalogs, 0x6B766D73 ("kvms"), as sqlite3 prints it.
    static let applicationID = "1802923379"

    static func tempDir(_ tag: String) throws -> String {
        let dir = "\(IntegrationEnvironment.scratchRoot)/hardening-\(tag)-\(UUID().uuidString.prefix(8))"
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        return dir
    }

    /// `sqlite3 FILE .dump`: the catalog's whole content, for "nothing changed" checks.
    static func dump(_ path: String) throws -> String {
        let outcome = try ExternalProcess.run("sqlite3", [path, ".dump"], timeout: .seconds(60))
        guard outcome.status == 0 else { throw TestGuestError("sqlite3 .dump \(path): \(outcome.standardError)") }
        return outcome.standardOutput
    }

    @discardableResult
    static func sql(_ path: String, _ statement: String) throws -> String {
        let outcome = try ExternalProcess.run("sqlite3", [path, statement], timeout: .seconds(60))
        guard outcome.status == 0 else { throw TestGuestError("sqlite3 \(statement): \(outcome.standardError)") }
        return outcome.standardOutput.trimmingCharacters(in: .whitespacesAndNewlines)
    }

    /// lstat's type and permission bits.
    static func mode(_ path: String) -> mode_t? {
        var info = stat()
        return lstat(path, &info) == 0 ? info.st_mode : nil
    }

    static func run(_ tool: String, _ args: [String]) throws {
        let outcome = try ExternalProcess.run(tool, args, timeout: .seconds(60))
        guard outcome.status == 0 else { throw TestGuestError("\(tool) \(args): \(outcome.standardError)") }
    }

    /// The error is exactly one line `kvmsnap: error: …` containing `text`.
    static func oneLineError(_ result: CLI.Result, _ text: String) -> Bool {
        result.stderr.hasPrefix("kvmsnap: error: ") && result.stderr.filter { $0 == "\n" }.count == 1
            && (text.isEmpty || result.stderr.contains(text))
    }
}

@Suite(.serialized, .enabled(if: IntegrationEnvironment.available))
struct HardeningCatalogTests {
    /// Item 6: an empty file at the catalog path is an error, not a fresh start; reading
    /// commands on a missing catalog say there is nothing and create no file.
    @Test func emptyCatalogFileIsRefusedAndAMissingOneIsNotCreatedByReadingCommands() throws {
        let f = try EngineFixture(tag: "emptycat", start: false)
        defer { f.destroy() }
        let dir = try Hardening.tempDir("emptycat")
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let vm = f.guest.name

        let empty = dir + "/catalog.sqlite"
        FileManager.default.createFile(atPath: empty, contents: Data())
        let cli = CLI(catalog: empty, store: dir + "/store")
        for args in [["create", vm, "--name", "a"], ["list", vm], ["jobs"]] {
            let result = try cli.run(args)
            #expect(
                result.status == 3 && Hardening.oneLineError(result, "is an empty file, not a kvmsnap catalog"), "\(args): \(result.status) \(result.stderr)")
        }
        #expect(try FileManager.default.contentsOfDirectory(atPath: dir) == ["catalog.sqlite"], "files appeared next to the empty catalog")
        #expect(try Data(contentsOf: URL(fileURLWithPath: empty)).isEmpty)
        #expect(try f.guest.domain.xml(flags: [.inactive]).contains("<source file='\(f.guest.diskPaths[0])'"), "the VM's disks were changed")

        // No catalog at all: reading commands answer "nothing" and create neither file nor directory.
        let missing = CLI(catalog: dir + "/sub/none.sqlite", store: dir + "/store")
        let list = try missing.run(["list", vm])
        #expect(list.status == 0 && list.stdout == "no snapshots\n", "\(list.stdout) \(list.stderr)")
        #expect(try missing.run(["show", vm, "a"]).status == 2)
        for args in [["jobs"], ["usage"], ["check"], ["hook", "list"], ["policy", "show"], ["lab", "list"], ["vms"]] {
            let result = try missing.run(args)
            #expect(result.status == 0, "\(args): \(result.stderr)")
        }
        #expect(try FileManager.default.contentsOfDirectory(atPath: dir) == ["catalog.sqlite"], "a reading command created files")
        // A command that writes creates it, stamped as kvmsnap's.
        #expect(try missing.run(["policy", "set", vm, "--keep-last", "2"]).status == 0)
        #expect(try Hardening.sql(missing.catalog, "PRAGMA application_id") == Hardening.applicationID)
        #expect(Hardening.mode(missing.catalog).map { $0 & 0o777 } == 0o600)
    }

    /// Item 17: another application's SQLite file, a character device, a FIFO and a directory
    /// at --catalog are refused: no tables added, no mode changed, no -journal/-wal next to them.
    @Test func foreignFilesAtTheCatalogPathAreRefusedUntouched() throws {
        let f = try EngineFixture(tag: "foreigncat", start: false)
        defer { f.destroy() }
        let dir = try Hardening.tempDir("foreigncat")
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let vm = f.guest.name

        let foreign = dir + "/other.sqlite"
        _ = try Hardening.sql(foreign, "CREATE TABLE notes(id INTEGER PRIMARY KEY, text TEXT); INSERT INTO notes(text) VALUES ('mine')")
        chmod(foreign, 0o644)
        // A GRDB database of another application, even one with a migration named like kvmsnap's first.
        let grdb = dir + "/grdb.sqlite"
        _ = try Hardening.sql(
            grdb, "CREATE TABLE grdb_migrations(identifier TEXT NOT NULL PRIMARY KEY); INSERT INTO grdb_migrations VALUES ('v1-initial'), ('v2-their-own')")
        try Hardening.run("mknod", [dir + "/chardev", "c", "1", "3"])
        chmod(dir + "/chardev", 0o666)
        #expect(mkfifo(dir + "/fifo", 0o644) == 0)
        try FileManager.default.createDirectory(atPath: dir + "/adir", withIntermediateDirectories: false)
        chmod(dir + "/adir", 0o755)

        let before = try FileManager.default.contentsOfDirectory(atPath: dir).sorted()
        let dumps = [foreign: try Hardening.dump(foreign), grdb: try Hardening.dump(grdb)]
        let modes = Dictionary(uniqueKeysWithValues: before.map { (dir + "/" + $0, Hardening.mode(dir + "/" + $0)) })
        for (path, what) in [
            (foreign, "another application's SQLite database"), (grdb, "another application's SQLite database"),
            (dir + "/chardev", "not a regular file"), (dir + "/fifo", "not a regular file"), (dir + "/adir", "a directory"),
        ] {
            let cli = CLI(catalog: path, store: dir + "/store")
            for args in [["create", vm, "--name", "a"], ["list", vm], ["policy", "set", "--default", "--keep-last", "1"]] {
                let result = try cli.run(args, timeout: 60)
                #expect(
                    result.status == 3 && Hardening.oneLineError(result, "\(path) is \(what), not a kvmsnap catalog"),
                    "\(path) \(args): \(result.status) \(result.stderr)")
            }
        }
        #expect(try FileManager.default.contentsOfDirectory(atPath: dir).sorted() == before, "files appeared next to the refused paths")
        for (path, mode) in modes { #expect(Hardening.mode(path) == mode, "mode of \(path) changed") }
        for (path, dump) in dumps { #expect(try Hardening.dump(path) == dump, "\(path) was changed") }
        #expect(try FileManager.default.contentsOfDirectory(atPath: dir + "/adir").isEmpty)
    }

    /// Item 17: a catalog of an earlier kvmsnap (no application_id) is recognised by its
    /// migrations, keeps working and is stamped.
    @Test func anUnstampedCatalogOfAnEarlierVersionIsRecognisedAndStamped() throws {
        let f = try EngineFixture(tag: "oldcat", start: false)
        defer { f.destroy() }
        let cli = CLI(f), vm = f.guest.name
        #expect(try cli.run(["create", vm, "--name", "a"]).status == 0)
        _ = try Hardening.sql(f.catalogPath, "PRAGMA application_id = 0")
        #expect(try Hardening.sql(f.catalogPath, "PRAGMA application_id") == "0")
        let list = try cli.run(["list", vm, "--json"])
        #expect(list.status == 0 && (list.json as? [[String: Any]])?.first?["name"] as? String == "a", "\(list.stderr)")
        #expect(try Hardening.sql(f.catalogPath, "PRAGMA application_id") == Hardening.applicationID)
    }

    /// Item 22 (read-only catalog): a catalog file, or its directory, that cannot be written
    /// still serves list, show, jobs and usage; a command that writes says so in one line.
    @Test func aReadOnlyCatalogServesReadingCommands() throws {
        let f = try EngineFixture(tag: "rocat", start: false)
        defer { f.destroy() }
        let dir = try Hardening.tempDir("rocat")
        defer {
            _ = try? ExternalProcess.run("chattr", ["-i", dir, dir + "/catalog.sqlite"])
            try? FileManager.default.removeItem(atPath: dir)
        }
        let cli = CLI(catalog: dir + "/catalog.sqlite", store: f.storePath), vm = f.guest.name
        #expect(try cli.run(["create", vm, "--name", "a", "--description", "kept"]).status == 0)

        func readingCommandsWork(_ label: String) throws {
            let list = try cli.run(["list", vm])
            #expect(list.status == 0 && list.stdout.contains("kept"), "\(label) list: \(list.stderr)")
            let show = try cli.run(["show", vm, "a", "--json"])
            #expect(show.status == 0 && (show.json as? [String: Any])?["name"] as? String == "a", "\(label) show: \(show.stderr)")
            let jobs = try cli.run(["jobs", "--json"])
            #expect(
                jobs.status == 0 && (jobs.json as? [[String: Any]])?.contains { $0["kind"] as? String == "create" } == true, "\(label) jobs: \(jobs.stderr)")
            let usage = try cli.run(["usage", vm])
            #expect(usage.status == 0 && usage.stdout.contains(vm), "\(label) usage: \(usage.stderr)")
            let edit = try cli.run(["edit", vm, "a", "--pin"])
            #expect(edit.status == 1 && Hardening.oneLineError(edit, "is read-only"), "\(label) edit: \(edit.stderr)")
        }
        let dump = try Hardening.dump(cli.catalog)
        try Hardening.run("chattr", ["+i", cli.catalog])
        try readingCommandsWork("read-only file")
        try Hardening.run("chattr", ["-i", cli.catalog])
        for suffix in ["-wal", "-shm"] { unlink(cli.catalog + suffix) }
        try Hardening.run("chattr", ["+i", dir])
        try readingCommandsWork("read-only directory")
        try Hardening.run("chattr", ["-i", dir])
        #expect(try Hardening.dump(cli.catalog) == dump)
    }

    /// Item 13: --store at an existing directory never changes its mode (here a sticky 1777
    /// one, as /tmp), even when the command is refused; the store's own directories get theirs.
    @Test func anExistingStoreDirectoryKeepsItsMode() throws {
        let f = try EngineFixture(tag: "storemode", start: false)
        defer { f.destroy() }
        let store = try Hardening.tempDir("storemode")
        defer { try? FileManager.default.removeItem(atPath: store) }
        chmod(store, 0o1777)
        let cli = CLI(catalog: f.catalogPath, store: store), vm = f.guest.name
        let refused = try cli.run(["edit", vm, "nosuch", "--pin"])
        #expect(refused.status == 2, "\(refused.stderr)")
        #expect(Hardening.mode(store).map { $0 & 0o7777 } == 0o1777)
        #expect(!FileManager.default.fileExists(atPath: store + "/vms"), "a refused command made the VM's store directories")
        #expect(try cli.run(["create", vm, "--name", "a"]).status == 0)
        #expect(Hardening.mode(store).map { $0 & 0o7777 } == 0o1777)
        let uuid = try f.engine.catalogVM(vm).uuid
        let layout = StoreLayout(root: store)
        for (path, mode) in [
            (store + "/vms", 0o711), (store + "/locks", 0o700), (layout.layersDirectory(uuid), 0o711),
            (layout.memoryDirectory(uuid), 0o700), (layout.nvramDirectory(uuid), 0o700),
        ] {
            #expect(Hardening.mode(path).map { Int($0 & 0o7777) } == mode, "\(path)")
        }
    }
}

/// Item 16: run-due --metrics-textfile only ever replaces a regular file.
@Suite(.enabled(if: FileManager.default.isExecutableFile(atPath: CLI.binary)))
struct HardeningMetricsTests {
    @Test func metricsTextfileRefusesAnythingButARegularFile() throws {
        let dir = NSTemporaryDirectory() + "kvmsnap-metrics-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: dir) }
        func runDue(_ target: String) throws -> CLI.Result {
            try CLI.runBare([
                "run-due", "--metrics-textfile", target, "--connect", "test:///default",
                "--catalog", dir + "/c.sqlite", "--store", dir + "/store",
            ])
        }
        let victim = dir + "/victim"
        FileManager.default.createFile(atPath: victim, contents: Data("precious\n".utf8))
        chmod(victim, 0o600)
        try FileManager.default.createSymbolicLink(atPath: dir + "/link.prom", withDestinationPath: victim)
        #expect(mkfifo(dir + "/fifo.prom", 0o644) == 0)
        try Hardening.run("mknod", [dir + "/dev.prom", "c", "1", "3"])
        try FileManager.default.createDirectory(atPath: dir + "/dir.prom", withIntermediateDirectories: false)
        for (name, what) in [("link.prom", "a symbolic link"), ("fifo.prom", "a FIFO"), ("dev.prom", "a character device"), ("dir.prom", "a directory")] {
            let before = Hardening.mode(dir + "/" + name)
            let result = try runDue(dir + "/" + name)
            #expect(
                result.status == 64 && Hardening.oneLineError(result, "exists and is not a regular file (\(what))"),
                "\(name): \(result.status) \(result.stderr)")
            #expect(Hardening.mode(dir + "/" + name) == before, "\(name) was replaced")
        }
        // The daemon refuses at start, before its first run.
        let daemon = try CLI.runBare(
            [
                "daemon", "--metrics-textfile", dir + "/link.prom", "--connect", "test:///default",
                "--catalog", dir + "/c.sqlite", "--store", dir + "/store",
            ], timeout: 30)
        #expect(daemon.status == 64 && daemon.stderr.contains("--metrics-textfile \(dir)/link.prom exists and is not a regular file"), "\(daemon.stderr)")
        #expect(Hardening.mode(dir + "/link.prom").map { $0 & S_IFMT } == S_IFLNK)
        #expect(try String(contentsOfFile: victim, encoding: .utf8) == "precious\n")
        #expect(Hardening.mode(victim).map { $0 & 0o777 } == 0o600)
        #expect(try FileManager.default.contentsOfDirectory(atPath: dir + "/dir.prom").isEmpty)

        // A regular file is replaced atomically, 0644; no temporary file stays behind.
        let regular = dir + "/kvmsnap.prom"
        FileManager.default.createFile(atPath: regular, contents: Data("old\n".utf8))
        chmod(regular, 0o600)
        let ok = try runDue(regular)
        #expect(ok.status == 0, "\(ok.stderr)")
        #expect(try String(contentsOfFile: regular, encoding: .utf8).contains("kvmsnap_failed_jobs"))
        #expect(Hardening.mode(regular) == S_IFREG | 0o644)
        #expect(try FileManager.default.contentsOfDirectory(atPath: dir).filter { $0.hasSuffix(".tmp") }.isEmpty)
    }
}

/// Item 23: a VM undefined with virsh and re-created with an image at the same path.
@Suite(.serialized, .enabled(if: IntegrationEnvironment.available))
struct HardeningForgetTests {
    /// Undefines the guest's domain (files stay) and defines a new VM of the same name whose
    /// vda is a fresh image at the original path, as re-creating it from a template does.
    func recreate(_ f: EngineFixture) throws -> (oldUUID: String, newUUID: String) {
        let old = try f.guest.connection.lookupDomain(name: f.guest.name)
        let oldUUID = try old.uuidString
        var xml = try old.xml(flags: [.inactive])
        try old.undefine()
        xml = xml.replacingOccurrences(of: "<uuid>\(oldUUID)</uuid>", with: "")
        xml = xml.replacingOccurrences(
            of: #"<source file='[^']*/store/vms/[^']*'/>"#, with: "<source file='\(f.guest.diskPaths[0])'/>",
            options: .regularExpression)
        try Hardening.run("qemu-img", ["create", "-q", "-f", "qcow2", f.guest.diskPaths[0], "64M"])
        let new = try f.guest.connection.defineDomain(xml: xml)
        return (oldUUID, try new.uuidString)
    }

    @Test func aVanishedVMWhoseImagePathIsReusedIsNamedAndCanBeForgotten() throws {
        let f = try EngineFixture(tag: "forget", start: false)
        defer { f.destroy() }
        let cli = CLI(f), vm = f.guest.name
        #expect(try cli.run(["create", vm, "--name", "a"]).status == 0)
        #expect(try cli.run(["create", vm, "--name", "b"]).status == 0)
        let (oldUUID, newUUID) = try recreate(f)
        let oldFiles = filesUnder(StoreLayout(root: f.storePath).vmDirectory(oldUUID))
        #expect(oldFiles.contains { $0.hasSuffix(".qcow2") })

        // create says what to do in one line and changes nothing.
        let dump = try Hardening.dump(f.catalogPath)
        let refused = try cli.run(["create", vm, "--name", "c"])
        #expect(refused.status == 3 && Hardening.oneLineError(refused, "run 'kvmsnap forget \(oldUUID)' first"), "\(refused.stderr)")
        #expect(try Hardening.dump(f.catalogPath) == dump, "a refused create changed the catalog")
        let check = try cli.run(["check"])
        #expect(check.status == 1 && check.stdout.contains("is no longer defined in libvirt; 'kvmsnap forget \(oldUUID)' drops it"), "\(check.stdout)")

        // forget drops the rows, keeps the jobs and (without --delete-files) the store files.
        let forgot = try cli.run(["forget", oldUUID])
        #expect(forgot.status == 0 && forgot.stdout.contains("2 snapshots"), "\(forgot.stdout) \(forgot.stderr)")
        #expect(try Hardening.sql(f.catalogPath, "SELECT (SELECT COUNT(*) FROM snapshot) + (SELECT COUNT(*) FROM layer) + (SELECT COUNT(*) FROM vm)") == "0")
        #expect(try Hardening.sql(f.catalogPath, "SELECT kind FROM job WHERE vmUUID = '\(oldUUID)' ORDER BY id") == "create\ncreate\nforget")
        #expect(filesUnder(StoreLayout(root: f.storePath).vmDirectory(oldUUID)) == oldFiles)
        #expect(try cli.run(["forget", oldUUID]).status == 2)

        // The new VM snapshots now; forget refuses it while libvirt has it, changing nothing.
        #expect(try cli.run(["create", vm, "--name", "c"]).status == 0)
        let dumpWithNew = try Hardening.dump(f.catalogPath)
        for target in [vm, newUUID] {
            let stillThere = try cli.run(["forget", target, "--delete-files"])
            #expect(stillThere.status == 3 && Hardening.oneLineError(stillThere, "is still defined in libvirt"), "\(stillThere.stderr)")
        }
        #expect(try Hardening.dump(f.catalogPath) == dumpWithNew)

        // --delete-files removes only the VM's files in the store, never its own image.
        let image = try Data(contentsOf: URL(fileURLWithPath: f.guest.diskPaths[0]))
        try f.guest.connection.lookupDomain(uuid: newUUID).undefine()
        let deleted = try cli.run(["forget", newUUID, "--delete-files", "--json"])
        #expect(deleted.status == 0, "\(deleted.stderr)")
        let files = (deleted.json as? [String: Any])?["deletedFiles"] as? [String] ?? []
        #expect(!files.isEmpty && files.allSatisfy { $0.hasPrefix(StoreLayout(root: f.storePath).vmDirectory(newUUID) + "/") }, "\(files)")
        #expect(!FileManager.default.fileExists(atPath: StoreLayout(root: f.storePath).vmDirectory(newUUID)))
        #expect(try Data(contentsOf: URL(fileURLWithPath: f.guest.diskPaths[0])) == image)
    }
}

/// Item 12: a refused delete (and prune, restore, rename, edit) changes nothing: no row, no
/// memory file, no layer, no job, and the VM keeps running.
@Suite(.serialized, .enabled(if: IntegrationEnvironment.available))
struct HardeningRefusalTests {
    @Test func refusalsOnAVMChangedOutsideKvmsnapChangeNothing() throws {
        let f = try EngineFixture(tag: "refuse")
        defer { f.destroy() }
        let cli = CLI(f), vm = f.guest.name
        try cli.createWhileCounting(vm, ["a"], guest: f.guest)
        #expect(try cli.run(["create", vm, "--name", "b"]).status == 0)
        let memory = try #require(try f.engine.snapshot(vm: vm, name: "b").record.memoryPath)
        // Someone takes a disk snapshot with virsh: the VM now writes to an overlay kvmsnap does not know.
        let outside = f.guest.directory + "/outside.qcow2"
        try Hardening.run(
            "virsh",
            [
                "-c", IntegrationEnvironment.uri, "snapshot-create-as", vm, "--disk-only", "--no-metadata",
                "--diskspec", "vda,file=\(outside)",
            ])

        let dump = try Hardening.dump(f.catalogPath)
        let files = filesUnder(f.storePath)
        for args in [
            ["delete", vm, "b", "--yes"], ["delete", vm, "a", "--yes"], ["prune", vm, "--keep-last", "1"],
            ["restore", vm, "a", "--confirm", vm],
        ] {
            let result = try cli.run(args)
            #expect(result.status == 3 && Hardening.oneLineError(result, "changed outside kvmsnap"), "\(args): \(result.status) \(result.stderr)")
            #expect(try Hardening.dump(f.catalogPath) == dump, "\(args) changed the catalog")
            #expect(filesUnder(f.storePath) == files, "\(args) changed the store")
        }
        for (args, status) in [
            (["rename", vm, "a", "b"], Int32(3)), (["edit", vm, "nosuch", "--pin"], 2), (["delete", vm, "nosuch", "--yes"], 2),
            (["restore", vm, "nosuch", "--confirm", vm], 2),
        ] {
            let result = try cli.run(args)
            #expect(result.status == status && Hardening.oneLineError(result, ""), "\(args): \(result.status) \(result.stderr)")
            #expect(try Hardening.dump(f.catalogPath) == dump, "\(args) changed the catalog")
        }
        #expect(FileManager.default.fileExists(atPath: memory))
        #expect(f.guest.isRunning)
        let counter = f.guest.latestCounter ?? 0
        try f.guest.waitForCounter(atLeast: counter + 1)
    }
}
