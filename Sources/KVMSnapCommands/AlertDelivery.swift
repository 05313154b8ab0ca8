import Foundation
import Notify
import SnapshotCatalog
import Synchronization

/// Delivers the alert outbox after a command (``KVMSnap/runMain(_:)``, success or failure) and
/// after each run-due (``Scheduler``), so what a command recorded (a failed job) reaches its
/// targets without waiting for the next run-due. Only a catalog the command opened is looked
/// at, and only when it exists and can be written.
enum AlertDelivery {
    /// The catalog path the command opened (set by ``Context``).
    private static let openedCatalog = Mutex<String?>(nil)

    static func noteCatalog(_ path: String) { openedCatalog.withLock { $0 = path } }

    /// Delivers the due deliveries of the command's catalog, within a few seconds; a failure is
    /// one warning line on standard error (it stays in the outbox for the next try).
    static func deliverAtExit() {
        guard let path = openedCatalog.withLock({ $0 }), FileManager.default.fileExists(atPath: path) else { return }
        guard let catalog = try? Catalog.openForReading(path: path), !catalog.isReadOnly else { return }
        deliver(catalog: catalog, now: { Date() })
    }

    static func deliver(catalog: Catalog, now: @escaping @Sendable () -> Date) {
        #if KVMSNAP_TESTING
        stallBeforeDelivery()
        #endif
        let report = Deliverer(catalog: catalog, now: now).deliverDue()
        for error in report.errors { Output.notice("warning: \(error) (kept; retried later, see 'kvmsnap notify log')") }
    }

    #if KVMSNAP_TESTING
    /// Test-only (debug builds): `KVMSNAP_TEST_STALL_AT=notify.deliver` touches
    /// `KVMSNAP_TEST_STALL_MARKER` and sleeps before the outbox is delivered, so a test can
    /// SIGKILL kvmsnap between "event recorded" and "delivered".
    private static func stallBeforeDelivery() {
        let environment = ProcessInfo.processInfo.environment
        guard environment["KVMSNAP_TEST_STALL_AT"] == "notify.deliver" else { return }
        if let marker = environment["KVMSNAP_TEST_STALL_MARKER"] { FileManager.default.createFile(atPath: marker, contents: Data("notify.deliver".utf8)) }
        sleep(600)
    }
    #endif
}
