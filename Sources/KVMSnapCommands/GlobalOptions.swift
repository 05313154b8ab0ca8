import ArgumentParser
import Foundation

/// Options every command shares, in virsh's and borg's spelling.
public struct GlobalOptions: ParsableArguments {
    @Option(
        name: [.customShort("c"), .long], help: ArgumentHelp("libvirt connection URI (default: $LIBVIRT_DEFAULT_URI, else qemu:///system).", valueName: "URI"))
    public var connect: String?

    @Option(help: ArgumentHelp("Catalog database (default: $KVMSNAP_CATALOG, else /var/lib/kvmsnap/catalog.sqlite).", valueName: "PATH"))
    public var catalog: String?

    @Option(help: ArgumentHelp("Snapshot store directory (default: $KVMSNAP_STORE, else /var/lib/kvmsnap/store).", valueName: "DIR"))
    public var store: String?

    @Flag(help: "Print machine-readable JSON instead of tables.")
    public var json = false

    public init() {}

    var environment: [String: String] { ProcessInfo.processInfo.environment }

    public var resolvedURI: String { connect ?? environment["LIBVIRT_DEFAULT_URI"].flatMap { $0.isEmpty ? nil : $0 } ?? "qemu:///system" }
    public var resolvedCatalog: String { Self.absolute(catalog ?? environment["KVMSNAP_CATALOG"] ?? "/var/lib/kvmsnap/catalog.sqlite") }
    /// Absolute, because libvirtd resolves paths in snapshot XML against its own directory.
    public var resolvedStore: String { Self.absolute(store ?? environment["KVMSNAP_STORE"] ?? "/var/lib/kvmsnap/store") }

    static func absolute(_ path: String) -> String {
        if path.hasPrefix("/") { return path }
        return URL(fileURLWithPath: path, relativeTo: URL(fileURLWithPath: FileManager.default.currentDirectoryPath, isDirectory: true))
            .standardizedFileURL.path
    }
}
