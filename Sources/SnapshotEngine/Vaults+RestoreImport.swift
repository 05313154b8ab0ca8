import Foundation
import KVMSnapCore
import Libvirt
import SnapshotCatalog
import Vault

extension SnapshotEngine {
    /// Imports the materialized files in one transaction: the VM (when new), one standalone layer
    /// per disk and a ready snapshot whose configuration points at them (`clone`: the new VM's
    /// name, UUID, no MAC addresses, its own NVRAM and console files).
    func importVaultSnapshot(
        _ manifest: VaultManifest, targets: VaultFileTargets, vm: VMRecord, createVM: Bool, snapshotID: String, name: String,
        clone newName: String?
    ) throws(EngineError) -> SnapshotRecord {
        var config = try DomainDefinition(xml: manifest.domainXML)
        for disk in targets.disks { try config.setDiskSource(target: disk.target, path: disk.path, format: disk.format) }
        if let newName {
            let nvram = targets.nvram.flatMap { _ in config.nvramPath }.map {
                (($0 as NSString).deletingLastPathComponent as NSString).appendingPathComponent("\(newName)_VARS.fd")
            }
            try config.makeClone(name: newName, nvramPath: nvram)
            try config.setUUID(vm.uuid)
            try config.renameFileOutputs(suffix: newName)
        }
        let now = clock.now()
        let layers = targets.disks.map { disk in
            LayerRecord(
                id: StoreLayout.layerID(fromPath: disk.path), vmUUID: vm.uuid, diskTarget: disk.target, path: disk.path,
                format: disk.format, parentLayerID: nil, role: .fullCopy, createdAt: now)
        }
        let snapshot = SnapshotRecord(
            id: snapshotID, vmUUID: vm.uuid, name: name, description: "restored from a vault (taken on \(manifest.host))",
            kind: .full, parentID: nil, createdAt: manifest.createdAt, state: .ready, hasMemory: targets.memory != nil,
            memoryPath: targets.memory, memoryBytes: targets.memory == nil ? 0 : manifest.memory?.size ?? 0,
            diskBytes: manifest.disks.reduce(0) { $0 + $1.allocatedBytes }, configXML: config.xml, nvramPath: targets.nvram)
        try Durability.durable.makeDurable(targets.finals, store: store)
        try db { () throws(CatalogError) in
            try catalog.write { db in
                if createVM { try db.save(vm) }
                for layer in layers { try db.insert(layer) }
                try db.insert(snapshot)
                for layer in layers { try db.save(SnapshotDiskRecord(snapshotID: snapshotID, diskTarget: layer.diskTarget, layerID: layer.id)) }
            }
        }
        return snapshot
    }

    /// Defines a VM that is not on this host from the imported snapshot and reverts it to that
    /// snapshot (overlays, NVRAM, memory or boot), then checks its state. Any failure removes the
    /// VM, the imported rows and files: the host is as before. Returns the final state.
    func defineAndRevert(vm: VMRecord, snapshot: SnapshotRecord, start: StartMode, targets: VaultFileTargets) throws(EngineError) -> String {
        let domain = try lv("cannot define the VM") { () throws(LibvirtError) in try connection.defineDomain(xml: snapshot.configXML) }
        do throws(EngineError) {
            try restorer.revertLocked(domain: domain, vm: vm, snapshot: snapshot, start: start)
            let state = try lv("cannot read VM state") { () throws(LibvirtError) in try domain.state().state }
            let expected: DomainState =
                switch start {
                case .running: .running
                case .paused: .paused
                case .off: .shutoff
                }
            guard state == expected else { throw EngineError(.libvirt, "the restored VM is \(state), expected \(expected)") }
            return "\(state)"
        } catch {
            if let kept = restorer.removeNewVM(domain) {
                throw EngineError(error.code, "\(error.message); the restored VM \(vm.name) could not be removed (\(kept.message)), so its files were kept")
            }
            forgetVaultImport(vmUUID: vm.uuid, snapshotID: snapshot.id, targets: targets)
            removeEmptyStoreDirectories(vmUUID: vm.uuid)
            throw EngineError(error.code, "\(error.message); the restored VM was removed again")
        }
    }

    /// Removes an import: its snapshot, the layers made on its files (overlays of a revert
    /// included) and their files, and the VM's row when nothing else of it remains.
    func forgetVaultImport(vmUUID: String, snapshotID: String, targets: VaultFileTargets) {
        do {
            try db { () throws(CatalogError) in
                try catalog.write { db in
                    let ours = Set(targets.disks.map(\.path))
                    let layers = try db.layers(vmUUID: vmUUID)
                    let ourIDs = Set(layers.filter { ours.contains($0.path) }.map(\.id))
                    let derived = layers.filter { $0.parentLayerID.map(ourIDs.contains) == true }
                    try db.deleteSnapshot(id: snapshotID)
                    for layer in derived { unlink(layer.path); try db.deleteLayer(id: layer.id) }
                    for id in ourIDs { try db.deleteLayer(id: id) }
                    if try db.snapshots(vmUUID: vmUUID).isEmpty, try db.layers(vmUUID: vmUUID).isEmpty {
                        _ = try db.forgetVM(uuid: vmUUID, policyScope: SnapshotEngine.policyScope(vmUUID: vmUUID))
                    }
                }
            }
        } catch {
            diagnostics.swallowed("forgetting the vault import of \(vmUUID)", error)
        }
        VaultMaterializer.remove(targets)
    }

    /// Cleans up `vault-restore` jobs whose process died: before the import, their files are
    /// removed; after it, the imported snapshot stands. `holding`: the VM whose lock this
    /// process holds already. Runs at the start of every command that writes the catalog.
    public func recoverVaultRestores(holding: String? = nil) {
        guard !catalog.isReadOnly else { return }
        let jobs: [JobRecord]
        do {
            jobs = try db { () throws(CatalogError) in
                try catalog.read { try $0.jobs(states: [.running, .pending], kinds: [JobKind.vaultRestore.rawValue]) }
            }
        } catch {
            diagnostics.swallowed("reading unfinished vault restores", error)
            return
        }
        for job in jobs where job.pid != getpid() {
            guard let uuid = job.vmUUID else { continue }
            if uuid == holding {
                let outcome = recoverVaultRestore(job)
                finishJob(job, error: outcome.journalEntry.error, note: outcome.journalEntry.note)
                continue
            }
            guard (try? FileManager.default.createDirectory(atPath: store.root + "/locks", withIntermediateDirectories: true)) != nil,
                let lock = try? VMLock(path: store.lockPath(uuid), wait: .zero, describeHolder: { "" })
            else { continue }
            withExtendedLifetime(lock) {
                let outcome = recoverVaultRestore(job)
                finishJob(job, error: outcome.journalEntry.error, note: outcome.journalEntry.note)
            }
        }
    }

    /// One dead `vault-restore` job (the caller holds its VM's lock).
    func recoverVaultRestore(_ job: JobRecord) -> RecoveryOutcome {
        guard let journal = job.decodedJournal(VaultRestoreJournal.self), let uuid = job.vmUUID else {
            return .abandoned("interrupted (kvmsnap process \(job.pid) died); its journal is unreadable, so its files were left")
        }
        let imported = (try? db { () throws(CatalogError) in try catalog.read { try $0.snapshot(id: journal.snapshotID) } }) ?? nil
        if let imported {
            if journal.definesDomain == true { return finishVaultRevert(job, journal: journal, snapshot: imported) }
            return .abandoned(
                "interrupted (kvmsnap process \(job.pid) died) after the vault snapshot was imported as snapshot "
                    + "'\(imported.name)'; restore or revert to it with kvmsnap"
            )
        }
        VaultMaterializer.remove(journal.targets)
        removeEmptyStoreDirectories(vmUUID: uuid)
        return .rolledBack("interrupted (kvmsnap process \(job.pid) died) while writing its files; they were removed")
    }
}
