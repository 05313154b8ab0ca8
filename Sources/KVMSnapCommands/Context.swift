import Foundation
import KVMSnapCore
import Libvirt
import SnapshotCatalog
import SnapshotEngine

/// What a command needs to talk to libvirt, the catalog and the store, built from GlobalOptions.
///
/// libvirt is connected to only when a command first needs it (``connection``, ``engine(progress:_:)``):
/// commands that only read the catalog (`jobs`, `policy show`, `hook list`, `lab list`) work while
/// libvirtd is down.
struct Context {
    let options: GlobalOptions
    private let link: LibvirtLink

    /// Checks the URI (nothing is connected yet). `localOnly` (every command but `vms`) also
    /// refuses a hypervisor on another machine, before anything is read or connected.
    init(_ options: GlobalOptions, localOnly: Bool = true) throws {
        self.options = options
        let uri = options.resolvedURI
        if let refusal = HypervisorURI(uri).refusal { throw CommandFailure("\(refusal) (nothing was changed)", exitCode: 64) }
        if localOnly { try Self.requireLocalHypervisor(uri) }
        link = LibvirtLink(uri: uri)
    }

    /// The libvirt connection, opened on first use (then shared by this context).
    var connection: Connection {
        get throws { try link.connection() }
    }

    /// True when libvirt answers at the URI (connecting if not yet connected).
    var libvirtReachable: Bool { (try? link.connection()) != nil }

    /// The catalog for a command that writes: created where no file exists.
    func catalog() throws -> Catalog {
        AlertDelivery.noteCatalog(options.resolvedCatalog)
        return try Catalog(path: options.resolvedCatalog)
    }

    /// The catalog for a command that only reads: read-only when it cannot be written, and an
    /// empty one in memory when there is no catalog yet (there is nothing; no file is created).
    func readingCatalog() throws -> Catalog {
        AlertDelivery.noteCatalog(options.resolvedCatalog)
        return try Catalog.openForReading(path: options.resolvedCatalog) ?? Catalog.empty(path: options.resolvedCatalog)
    }

    /// Catalog queries that need no libvirt, over ``readingCatalog()``.
    func catalogReader() throws -> CatalogReader {
        CatalogReader(catalog: try readingCatalog())
    }

    /// How a command uses the catalog, which decides whether a missing one is created.
    enum CatalogUse {
        /// May record something new (create, guard, policy set, hook add, run-due): created if missing.
        case write
        /// Only reads (list, show, jobs, usage, check, ...); see ``readingCatalog()``.
        case read
        /// Changes only what the catalog already holds (edit, delete, restore, lab mark, prune, ...):
        /// without a catalog there is nothing to act on, so none is created and the command refuses.
        case existing
    }

    /// `vm`: the VM a `.write` command acts on; when there is no catalog yet, a VM libvirt does
    /// not know is refused before one is created (a refused command creates nothing).
    func engine(progress: ProgressHandler? = nil, _ use: CatalogUse = .write, vm: String? = nil) throws -> SnapshotEngine {
        try Self.requireLocalHypervisor(options.resolvedURI)
        let connection = try connection  // before the catalog: an unreachable libvirt creates no catalog
        if use == .write, let vm, !FileManager.default.fileExists(atPath: options.resolvedCatalog) {
            let probe = SnapshotEngine(
                connection: connection, catalog: try Catalog.empty(path: options.resolvedCatalog), store: StoreLayout(root: options.resolvedStore))
            _ = try probe.domain(vm)
        }
        let catalog: Catalog =
            switch use {
            case .write: try self.catalog()
            case .read: try readingCatalog()
            case .existing:
                FileManager.default.fileExists(atPath: options.resolvedCatalog)
                    ? try self.catalog() : try Catalog.empty(path: options.resolvedCatalog)
            }
        let engine = SnapshotEngine(connection: connection, catalog: catalog, store: StoreLayout(root: options.resolvedStore))
        engine.progress = progress
        engine.productVersion = KVMSnap.version
        // A `restore --from-vault` killed while writing its files: the next command removes them.
        if use != .read { engine.recoverVaultRestores() }
        // Benchmark-only: measure create without fsyncs (scripts/bench.sh's create_durability_overhead_seconds).
        if ProcessInfo.processInfo.environment["KVMSNAP_UNSAFE_NO_FSYNC"] == "1" { engine.durability = .unsafeNone }
        #if KVMSNAP_TESTING
        engine.faultInjector = Self.testStall()
        // Test-only: how long a restore that lost libvirt waits for it (0: leave it to the next command).
        if let wait = ProcessInfo.processInfo.environment["KVMSNAP_TEST_LIBVIRT_WAIT"].flatMap(Double.init), wait >= 0, wait <= 600 {
            engine.libvirtWait = wait
        }
        #endif
        return engine
    }

    /// Refuses a hypervisor on another machine before anything is read or changed: the store,
    /// the catalog and the VMs' images must be on the machine kvmsnap runs on. A host name that
    /// is not one of this machine's names counts as local when it resolves to one of its addresses.
    static func requireLocalHypervisor(_ text: String) throws {
        let uri = HypervisorURI(text)
        var buffer = [CChar](repeating: 0, count: 256)
        let ownName = gethostname(&buffer, buffer.count) == 0 ? String(cString: buffer) : ""
        if uri.isLocal(localNames: [ownName, ProcessInfo.processInfo.hostName]) { return }
        if let host = uri.host, LocalAddresses.resolvesHere(host) { return }
        let host = uri.host ?? "?"
        throw CommandFailure(
            "\(uri.text) reaches the hypervisor on \(host), another machine: kvmsnap keeps its store and catalog next to the VMs' images, so run it on \(host) "
                + "itself (nothing was changed)",
            exitCode: 64)
    }

    #if KVMSNAP_TESTING
    /// Test-only hooks, compiled into debug builds only (`KVMSNAP_TESTING`, see Package.swift):
    /// a release binary ignores these variables. `KVMSNAP_TEST_FAIL_AT=<point>` makes that engine point fail.
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
    #endif
}

/// A libvirt connection opened on first use. A failed attempt is not cached: the next use tries
/// again (the daemon may have come back).
final class LibvirtLink {
    let uri: String
    private var opened: Connection?

    init(uri: String) { self.uri = uri }

    func connection() throws -> Connection {
        if let opened { return opened }
        do {
            let connection = try Connection(uri: uri)
            opened = connection
            return connection
        } catch {
            throw CommandFailure("cannot connect to \(uri): \(error.message)", exitCode: 1)
        }
    }
}

/// This machine's own addresses, to tell whether a host name in a URI is this machine.
enum LocalAddresses {
    /// True when `host` resolves (without a DNS query for a literal address) to a loopback
    /// address or one of this machine's interfaces' addresses (Debian maps its own name to 127.0.1.1).
    static func resolvesHere(_ host: String) -> Bool {
        let own = interfaceAddresses()
        var hints = addrinfo()
        hints.ai_socktype = Int32(SOCK_STREAM.rawValue)
        var result: UnsafeMutablePointer<addrinfo>?
        guard getaddrinfo(host, nil, &hints, &result) == 0, let first = result else { return false }
        defer { freeaddrinfo(first) }
        var entry: UnsafeMutablePointer<addrinfo>? = first
        while let current = entry {
            if let address = numericHost(current.pointee.ai_addr, length: current.pointee.ai_addrlen),
                own.contains(address) || address.hasPrefix("127.") || address == "::1"
            {
                return true
            }
            entry = current.pointee.ai_next
        }
        return false
    }

    static func interfaceAddresses() -> Set<String> {
        var list: UnsafeMutablePointer<ifaddrs>?
        guard getifaddrs(&list) == 0, let first = list else { return [] }
        defer { freeifaddrs(first) }
        var addresses: Set<String> = []
        var entry: UnsafeMutablePointer<ifaddrs>? = first
        while let current = entry {
            if let sa = current.pointee.ifa_addr {
                let length = socklen_t(sa.pointee.sa_family == sa_family_t(AF_INET6) ? MemoryLayout<sockaddr_in6>.size : MemoryLayout<sockaddr_in>.size)
                if let address = numericHost(sa, length: length) { addresses.insert(address) }
            }
            entry = current.pointee.ifa_next
        }
        return addresses
    }

    private static func numericHost(_ address: UnsafeMutablePointer<sockaddr>?, length: socklen_t) -> String? {
        guard let address, [sa_family_t(AF_INET), sa_family_t(AF_INET6)].contains(address.pointee.sa_family) else { return nil }
        var buffer = [CChar](repeating: 0, count: Int(NI_MAXHOST))
        guard getnameinfo(address, length, &buffer, socklen_t(buffer.count), nil, 0, NI_NUMERICHOST) == 0 else { return nil }
        return String(cString: buffer)
    }
}
