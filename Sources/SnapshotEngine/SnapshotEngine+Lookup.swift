import Foundation
import KVMSnapCore
import Libvirt
import SnapshotCatalog

// How the facade finds the VM an operation works on, before it takes the lock.
extension SnapshotEngine {
    /// The VM by name or UUID: from libvirt when it is defined, else from the catalog alone.
    /// `register`: a defined VM the catalog does not know yet is recorded (and a rename
    /// followed); without it (commands that only read, or refuse before changing anything) the
    /// catalog is not written and such a VM is returned unsaved, with no snapshots.
    func vmForCatalogWork(_ nameOrUUID: String, register: Bool = true) throws(EngineError) -> (VMRecord, Domain?) {
        if let domain = try? domain(nameOrUUID) {
            return (register && !catalog.isReadOnly ? try vmRecord(for: domain) : try unsavedRecord(for: domain), domain)
        }
        guard let record = try catalogVMRows.find(nameOrUUID) else {
            throw EngineError(.notFound, "no VM named '\(nameOrUUID)' on \((try? connection.uri) ?? "this connection") or in the catalog")
        }
        return (record, nil)
    }

    /// The catalog's record of a defined VM under its current name, or a new one, without
    /// writing anything (``vmRecord(for:)`` records it).
    func unsavedRecord(for domain: Domain) throws(EngineError) -> VMRecord {
        let uuid = try lv("cannot read VM UUID") { () throws(LibvirtError) in try domain.uuidString }
        var record =
            try db { () throws(CatalogError) in try catalog.read { try $0.vm(uuid: uuid) } }
            ?? VMRecord(uuid: uuid, name: domain.name, createdAt: clock.now())
        record.name = domain.name
        return record
    }

    /// The catalog's VM for `nameOrUUID` (defined in libvirt or only remembered by the catalog).
    /// `register: false` for commands that only read (see ``vmForCatalogWork(_:register:)``).
    public func catalogVM(_ nameOrUUID: String, register: Bool = true) throws(EngineError) -> VMRecord {
        try vmForCatalogWork(nameOrUUID, register: register).0
    }

    public func snapshot(vm nameOrUUID: String, name: String) throws(EngineError) -> SnapshotInfo {
        let (vm, all) = try snapshots(vm: nameOrUUID)
        guard let info = all.first(where: { $0.record.name == name }) else {
            throw EngineError(.notFound, "VM \(vm.name) has no snapshot named '\(name)'")
        }
        return info
    }

    /// Finishes jobs a crashed kvmsnap left behind when nobody holds the VM right now; a busy VM
    /// is left alone (its owner is alive and will finish its own job).
    func recoverIfIdle(vm: VMRecord, domain: Domain?) {
        guard !catalog.isReadOnly else { return }
        let unfinished: [JobRecord]
        do { unfinished = try jobJournal.unfinished(vmUUID: vm.uuid, limit: 1) } catch {
            diagnostics.swallowed("reading the unfinished jobs of \(vm.name)", error)
            return
        }
        guard !unfinished.isEmpty else { return }
        if let lock = try? lockVM(vm, domain: domain, wait: .zero) { withExtendedLifetime(lock) {} }
    }
}
