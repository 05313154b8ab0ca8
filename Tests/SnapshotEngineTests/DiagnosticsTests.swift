import Foundation
import InMemoryLogging
import Libvirt
import Logging
import SnapshotCatalog
import Testing

@testable import SnapshotEngine

/// Failures the engine goes on after are reported to its diagnostics (swift-log), not dropped.
/// Needs no libvirtd: libvirt's built-in test driver (test:///default) stands in for the hypervisor.
@Suite struct DiagnosticsTests {
    @Test func aFailedCatalogWriteWhenAJobEndsIsVisibleInTheDiagnostics() throws {
        let sink = InMemoryLogHandler()
        var configuration = EngineConfiguration(store: StoreLayout(root: NSTemporaryDirectory() + "kvmsnap-diagnostics-\(getpid())"))
        configuration.diagnostics = Diagnostics(logger: Logger(label: "test") { _ in sink })
        let catalog = try Catalog.empty(path: "/nonexistent/catalog.sqlite")
        let engine = SnapshotEngine(connection: try Connection(uri: "test:///default"), catalog: catalog, configuration: configuration)

        // A job the catalog no longer holds (as after `forget`): writing its end fails.
        var job = JobRecord(kind: "create", vmUUID: "u1", vmName: "vm1", startedAt: Date(), pid: getpid())
        job.id = 4242
        engine.finishJob(job, error: nil)

        #expect(sink.entries.map(\.level) == [.warning])
        let message = sink.entries.first.map { "\($0.message)" } ?? ""
        #expect(message.hasPrefix("recording the end of job 4242 (create) failed: "), "\(message)")
        #expect(try catalog.read { try $0.job(id: 4242) } == nil)
    }
}
