import Foundation
import KVMSnapCore
import Libvirt
import SnapshotCatalog
import SnapshotEngine

/// What a command needs to talk to libvirt, the catalog and the store, built from GlobalOptions.
struct Context {
    let options: GlobalOptions
    let connection: Connection

    init(_ options: GlobalOptions) throws {
        self.options = options
        let uri = options.resolvedURI
        do {
            connection = try Connection(uri: uri)
        } catch {
            throw CommandFailure("cannot connect to \(uri): \(error.message)", exitCode: 1)
        }
    }

    /// The catalog for a command that writes: created where no file exists.
    func catalog() throws -> Catalog {
        try Catalog(path: options.resolvedCatalog)
    }

    /// The catalog for a command that only reads: read-only when it cannot be written, and an
    /// empty one in memory when there is no catalog yet (there is nothing; no file is created).
    func readingCatalog() throws -> Catalog {
        try Catalog.openForReading(path: options.resolvedCatalog) ?? Catalog.empty(path: options.resolvedCatalog)
    }

    /// `reading`: the command only reads (list, show, jobs, usage, check, ...); see ``readingCatalog()``.
    func engine(progress: ProgressHandler? = nil, reading: Bool = false) throws -> SnapshotEngine {
        try requireLocalHypervisor()
        let engine = SnapshotEngine(connection: connection, catalog: try reading ? readingCatalog() : catalog(),
                                    store: StoreLayout(root: options.resolvedStore))
        engine.progress = progress
        engine.faultInjector = Self.testStall()
        // Test-only: how long a restore that lost libvirt waits for it (0: leave it to the next command).
        if let wait = ProcessInfo.processInfo.environment["KVMSNAP_TEST_LIBVIRT_WAIT"].flatMap(Double.init), wait >= 0, wait <= 600 {
            engine.libvirtWait = wait
        }
        return engine
    }

    /// Refuses a hypervisor on another machine before anything is read or changed: the store,
    /// the catalog and the VMs' images must be on the machine kvmsnap runs on.
    func requireLocalHypervisor() throws {
        let uri = HypervisorURI((try? connection.uri) ?? options.resolvedURI)
        var buffer = [CChar](repeating: 0, count: 256)
        let ownName = gethostname(&buffer, buffer.count) == 0 ? String(cString: buffer) : ""
        let names = [ownName, ProcessInfo.processInfo.hostName]
        if uri.isLocal(localNames: names) { return }
        // A remote-looking URI that still reaches this machine (its own address, an alias).
        if let theirs = try? connection.hostname(), HypervisorURI("x://\(theirs)/").isLocal(localNames: names) { return }
        let host = uri.host ?? "?"
        throw CommandFailure(
            "\(uri.text) reaches the hypervisor on \(host), another machine: kvmsnap keeps its store and catalog next to the VMs' images, so run it on \(host) itself (nothing was changed)",
            exitCode: 64)
    }

    /// Test-only hooks. `KVMSNAP_TEST_FAIL_AT=<point>` makes that engine point fail.
    /// `KVMSNAP_TEST_STALL_AT=<point>` makes kvmsnap touch
    /// `KVMSNAP_TEST_STALL_MARKER` and sleep at that engine point, so a crash test can SIGKILL
    /// it at an exact step; with `KVMSNAP_TEST_STALL_RELEASE=<path>` it goes on once that file
    /// exists (so a test can break something under it, e.g. kill libvirtd). Unset in normal use.
    static func testStall() -> (@Sendable (String) throws(EngineError) -> Void)? {
        let environment = ProcessInfo.processInfo.environment
        if let failAt = environment["KVMSNAP_TEST_FAIL_AT"], !failAt.isEmpty {
            return { reached throws(EngineError) in
                if reached == failAt { throw EngineError(.libvirt, "injected failure at \(reached)") }
            }
        }
        guard let point = environment["KVMSNAP_TEST_STALL_AT"], !point.isEmpty else { return nil }
        let marker = environment["KVMSNAP_TEST_STALL_MARKER"]
        let release = environment["KVMSNAP_TEST_STALL_RELEASE"]
        return { reached throws(EngineError) in
            guard reached == point else { return }
            if let marker { FileManager.default.createFile(atPath: marker, contents: Data(reached.utf8)) }
            guard let release else { sleep(600); return }
            let deadline = Date().addingTimeInterval(600)
            while !FileManager.default.fileExists(atPath: release), Date() < deadline { usleep(100_000) }
        }
    }
}
