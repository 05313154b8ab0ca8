import Foundation
import KVMSnapCore
import Libvirt
import SnapshotCatalog

struct DeleteJournal: Codable {
    var snapshotID: String
    /// Files that belong to the snapshot alone and go once its row is gone.
    var files: [String]
}

/// The snapshots service: what changes a VM's snapshots other than capture and restore: delete
/// (its own files, then the layers nothing needs, merged or deleted by ``LayerStore``), edit and
/// rename (one catalog row), `forget` (the catalog rows of a VM libvirt no longer has), and the
/// recovery of a delete whose process died (``recoverDelete(journal:vm:domain:)``).
///
/// State: none of its own; the catalog's rows, and a delete's journal is the job's
/// (``JobJournal``). A value built per call by the engine (``SnapshotEngine/snapshotService``)
/// that reads the engine's configuration at each step. Calls: ``JobJournal``, ``LayerStore``,
/// libvirt, ``ImageTool`` (forget's backing chains). The caller resolves the VM and holds its lock.
struct Snapshots: EngineService, Sendable {
    let connection: Connection
    let catalog: Catalog
    let settings: @Sendable () -> EngineConfiguration
    let jobJournal: JobJournal

    var configuration: EngineConfiguration { settings() }
    var store: StoreLayout { configuration.store }
    var clock: any EngineClock { configuration.clock }
    var layerStore: LayerStore { LayerStore(connection: connection, catalog: catalog, configuration: configuration) }

    /// Deletes `snapshot` as a `delete` job: never changes what any other snapshot restores, nor
    /// the VM. The caller holds the VM's lock.
    func delete(snapshot: SnapshotRecord, vm: VMRecord, domain: Domain?) throws(EngineError) {
        let files = [snapshot.memoryPath, snapshot.nvramPath].compactMap { $0 }
        try layerStore.refuseForeignBlockJobs(domain: domain, vm: vm)
        let job = try jobJournal.start(
            kind: .delete, vm: vm, snapshotID: snapshot.id, snapshotName: snapshot.name,
            journal: SnapshotEngine.encode(DeleteJournal(snapshotID: snapshot.id, files: files)))
        var deleted = false
        do {
            try inject(.deleteStarted)
            // One transaction: the snapshot disappears and its children hang off its parent.
            try db { () throws(CatalogError) in
                try catalog.write { db in
                    for var child in try db.children(of: snapshot.id) {
                        child.parentID = snapshot.parentID
                        try db.update(child)
                    }
                    if var current = try db.vm(uuid: vm.uuid), current.currentSnapshotID == snapshot.id {
                        current.currentSnapshotID = snapshot.parentID
                        try db.save(current)
                    }
                    if var record = try db.vm(uuid: vm.uuid), record.labBaselineID == snapshot.id {
                        record.labBaselineID = nil
                        try db.save(record)
                    }
                    try db.deleteSnapshot(id: snapshot.id)
                }
            }
            deleted = true
            try inject(.deleteAfterCatalog)
            for file in files { unlink(file) }
            try layerStore.reclaim(vmUUID: vm.uuid, domain: domain)
            jobJournal.finish(job, error: nil)
        } catch {
            jobJournal.finish(job, error: error)
            guard deleted else { throw error }
            // The snapshot is gone already: whatever reclaim refused, this is no refusal (a
            // refusal, exit 3, changes nothing) but a deletion whose clean-up failed.
            let refusal: Set<EngineError.Code> = [.conflict, .unsupported, .busy, .invalidInput, .notFound]
            throw EngineError(
                refusal.contains(error.code) ? .io : error.code,
                "snapshot '\(snapshot.name)' was deleted, but reclaiming its layers failed: \(error.message)")
        }
    }

    /// Finishes a delete whose process died: the snapshot's row (when still there), its files
    /// and the layers nothing needs go; each step is idempotent.
    func recoverDelete(journal: DeleteJournal, vm: VMRecord, domain: Domain?) throws(EngineError) -> RecoveryOutcome {
        if let snap = try db({ () throws(CatalogError) in try catalog.read { try $0.snapshot(id: journal.snapshotID) } }) {
            try delete(snapshot: snap, vm: vm, domain: domain)
        }
        for file in journal.files { unlink(file) }
        try layerStore.reclaim(vmUUID: vm.uuid, domain: domain)
        return .completed("interrupted; completed from the journal")
    }

    /// Changes one snapshot's catalog row in one transaction; the caller holds the VM's lock.
    /// With `expiresAt`, the stored expiry is set first (same transaction).
    func update(
        vm: VMRecord, name: String, expiresAt: Date?? = nil,
        _ change: (CatalogAccess, VMRecord, inout SnapshotRecord) throws -> Void
    ) throws(EngineError) {
        try db { () throws(CatalogError) in
            try catalog.write { db in
                if let expiresAt { try db.setExpiry(vmUUID: vm.uuid, name: name, expiresAt: expiresAt) }
                guard var record = try db.snapshot(vmUUID: vm.uuid, name: name) else {
                    throw EngineError(.notFound, "VM \(vm.name) has no snapshot named '\(name)'")
                }
                try change(db, vm, &record)
                try db.update(record)
            }
        }
    }
}

extension SnapshotEngine {
    /// The snapshots service, reading the engine's configuration as it is at each step.
    var snapshotService: Snapshots {
        Snapshots(connection: connection, catalog: catalog, settings: { [self] in configuration }, jobJournal: jobJournal)
    }

    /// Deletes snapshot `name`. Never changes what any other snapshot restores, nor the VM:
    /// the snapshot's own files go, then layers nothing needs are deleted or merged.
    public func deleteSnapshot(vm nameOrUUID: String, name: String) throws(EngineError) {
        let (vm, domain) = try vmForCatalogWork(nameOrUUID, register: false)
        let lock = try lockVM(vm, domain: domain)
        defer { withExtendedLifetime(lock) {} }
        guard let snapshot = try db({ () throws(CatalogError) in try catalog.read { try $0.snapshot(vmUUID: vm.uuid, name: name) } }) else {
            throw EngineError(.notFound, "VM \(vm.name) has no snapshot named '\(name)'")
        }
        try requireInStep(domain: domain, vm: vm)
        try delete(snapshot: snapshot, vm: vm, domain: domain)
    }

    /// ``Snapshots/delete(snapshot:vm:domain:)`` (also prune's delete path, ``SnapshotDeleting``).
    func delete(snapshot: SnapshotRecord, vm: VMRecord, domain: Domain?) throws(EngineError) {
        try snapshotService.delete(snapshot: snapshot, vm: vm, domain: domain)
    }

    public func rename(vm nameOrUUID: String, snapshot name: String, to newName: String) throws(EngineError) {
        try Self.validateName(newName)
        try updateSnapshot(vm: nameOrUUID, name: name) { db, vm, record in
            if newName != name, try db.snapshot(vmUUID: vm.uuid, name: newName) != nil {
                throw EngineError(.conflict, "VM \(vm.name) already has a snapshot named '\(newName)'")
            }
            record.name = newName
        }
    }

    /// Changes a snapshot's description, expiry (`.some(nil)` clears it) or pin.
    /// A new expiry replaces the stored one before the row is read, so this also repairs a row
    /// whose stored expiry cannot be read (`edit VM S --expires never`).
    public func edit(vm nameOrUUID: String, snapshot name: String, description: String?, expiresAt: Date??, pinned: Bool?) throws(EngineError) {
        if let expiresAt { try Self.validateExpiry(expiresAt) }
        try updateSnapshot(vm: nameOrUUID, name: name, expiresAt: expiresAt) { _, _, record in
            if let description { record.description = description }
            if let pinned { record.pinned = pinned }
        }
    }

    /// Refuses an expiry kvmsnap could not read back: outside years 1970...9999 (`Bounds`).
    static func validateExpiry(_ date: Date?) throws(EngineError) {
        if let date, !Bounds.isStorableDate(date) {
            throw EngineError(.invalidInput, "expiry \(Timestamp.format(date)) is outside the supported years 1970-9999")
        }
    }

    /// Changes one snapshot's catalog row under the VM's lock (``Snapshots/update(vm:name:expiresAt:_:)``).
    func updateSnapshot(
        vm nameOrUUID: String, name: String, expiresAt: Date?? = nil,
        _ change: (CatalogAccess, VMRecord, inout SnapshotRecord) throws -> Void
    ) throws(EngineError) {
        let (vm, domain) = try vmForCatalogWork(nameOrUUID, register: false)
        let lock = try lockVM(vm, domain: domain)
        defer { withExtendedLifetime(lock) {} }
        try snapshotService.update(vm: vm, name: name, expiresAt: expiresAt, change)
    }

    /// Drops the catalog rows of a VM that libvirt no longer has (``Snapshots/forget(vm:deleteFiles:)``).
    /// Refused (conflict, nothing changed) while libvirt still has the VM.
    public func forget(vm nameOrUUID: String, deleteFiles: Bool) throws(EngineError) -> ForgetResult {
        let vm = try snapshotService.vanishedVM(nameOrUUID)
        let lock = try lockVM(vm, domain: nil)
        defer { withExtendedLifetime(lock) {} }
        return try snapshotService.forget(vm: vm, deleteFiles: deleteFiles)
    }
}
