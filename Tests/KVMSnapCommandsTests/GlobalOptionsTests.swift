import Foundation
import Testing

@testable import KVMSnapCommands

/// Paths given relative to the caller's directory must reach libvirtd and SQLite as absolute
/// paths: libvirtd resolves snapshot file names against its own directory.
@Suite struct GlobalOptionsTests {
    @Test func relativeCatalogAndStoreBecomeAbsolute() throws {
        let options = try GlobalOptions.parse(["--catalog", "cat.sqlite", "--store", "./st/../store"])
        let cwd = FileManager.default.currentDirectoryPath
        #expect(options.resolvedCatalog == (cwd as NSString).appendingPathComponent("cat.sqlite"))
        #expect(options.resolvedStore == (cwd as NSString).appendingPathComponent("store"))
        #expect(try GlobalOptions.parse(["--store", "/srv/k"]).resolvedStore == "/srv/k")
    }
}
