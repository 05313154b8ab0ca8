import Foundation
import KVMSnapCore
import Libvirt
import SnapshotCatalog

struct DeleteJournal: Codable {
    var snapshotID: String
    /// Files that belong to the snapshot alone and go once its row is gone.
    var files: [String]
}

extension SnapshotEngine {
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

    /// The VM by name or UUID: from libvirt when it is defined, else from the catalog alone.
    /// `register`: a defined VM the catalog does not know yet is recorded (and a rename
    /// followed); without it (commands that only read, or refuse before changing anything) the
    /// catalog is not written and such a VM is returned unsaved, with no snapshots.
    func vmForCatalogWork(_ nameOrUUID: String, register: Bool = true) throws(EngineError) -> (VMRecord, Domain?) {
        if let domain = try? domain(nameOrUUID) {
            return (register && !catalog.isReadOnly ? try vmRecord(for: domain) : try unsavedRecord(for: domain), domain)
        }
        guard let record = try catalogVMRows.find(nameOrUUID) else { throw EngineError(.notFound, "no VM named '\(nameOrUUID)' on \((try? connection.uri) ?? "this connection") or in the catalog") }
        return (record, nil)
    }

    /// The catalog's record of a defined VM under its current name, or a new one, without
    /// writing anything (``vmRecord(for:)`` records it).
    func unsavedRecord(for domain: Domain) throws(EngineError) -> VMRecord {
        let uuid = try lv("cannot read VM UUID") { () throws(LibvirtError) in try domain.uuidString }
        var record = try db { () throws(CatalogError) in try catalog.read { try $0.vm(uuid: uuid) } }
            ?? VMRecord(uuid: uuid, name: domain.name, createdAt: clock.now())
        record.name = domain.name
        return record
    }

    func delete(snapshot: SnapshotRecord, vm: VMRecord, domain: Domain?) throws(EngineError) {
        let files = [snapshot.memoryPath, snapshot.nvramPath].compactMap { $0 }
        try refuseForeignBlockJobs(domain: domain, vm: vm)
        let job = try startJob(kind: .delete, vm: vm, snapshotID: snapshot.id, snapshotName: snapshot.name,
                               journal: Self.encode(DeleteJournal(snapshotID: snapshot.id, files: files)))
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
            try reclaim(vmUUID: vm.uuid, domain: domain)
            finishJob(job, error: nil)
        } catch {
            finishJob(job, error: error)
            guard deleted else { throw error }
            // The snapshot is gone already: whatever reclaim refused, this is no refusal (a
            // refusal, exit 3, changes nothing) but a deletion whose clean-up failed.
            let refusal: Set<EngineError.Code> = [.conflict, .unsupported, .busy, .invalidInput, .notFound]
            throw EngineError(refusal.contains(error.code) ? .io : error.code,
                              "snapshot '\(snapshot.name)' was deleted, but reclaiming its layers failed: \(error.message)")
        }
    }
}
