import Foundation
import KVMSnapCore
import Libvirt
import SnapshotCatalog

extension SnapshotEngine {
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

    /// Changes one snapshot's catalog row under the VM's lock, in one transaction.
    /// With `expiresAt`, the stored expiry is set first (same transaction).
    func updateSnapshot(vm nameOrUUID: String, name: String, expiresAt: Date?? = nil,
                        _ change: (CatalogAccess, VMRecord, inout SnapshotRecord) throws -> Void) throws(EngineError) {
        let (vm, domain) = try vmForCatalogWork(nameOrUUID, register: false)
        let lock = try lockVM(vm, domain: domain)
        defer { withExtendedLifetime(lock) {} }
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
