import Foundation
import KVMSnapCore
import Libvirt
import SnapshotCatalog
import Vault

/// `restore --from-vault`: disaster recovery from a vault snapshot.
///
/// 1. The vault is opened, the manifest authenticated and every chunk it references checked
///    (``Vaults/restorable(vault:vm:snapshot:)``): refusals come before anything on the host changes.
/// 2. Disks, memory image and NVRAM are written under `.partial` names and renamed into place
///    (``VaultMaterializer``), as a `vault-restore` job whose journal lists them: a failure
///    removes them, a killed restore is cleaned up by the next command.
/// 3. One catalog transaction imports the VM (when new), the standalone layers and a ready
///    snapshot named as in the vault: local incrementals continue from it.
/// 4. A VM not defined here is defined from the snapshot's configuration and reverted to it
///    (memory under the same UUID; `--as` boots from disk); a VM that exists goes through the
///    restore pipeline (safety snapshot, stop, revert, start, verify, rollback).
extension SnapshotEngine {
    /// A VM a vault restore writes into.
    struct VaultRestoreTarget {
        var vm: VMRecord
        /// The VM defined here that the restore replaces (nil: defined by the restore).
        var existing: Domain?
        var isClone: Bool
    }

    func restoreFromVaultLocked(_ options: VaultRestoreOptions) throws(EngineError) -> VaultRestoreReport {
        let began = ContinuousClock.now
        let (repository, manifest) = try vaults.restorable(vault: options.vault, vm: options.vm, snapshot: options.snapshot)
        let target = try vaultRestoreTarget(manifest, options)
        try store.prepareLocks()
        let lock: VMLock
        if let domain = target.existing {
            lock = try lockVM(target.vm, domain: domain)
        } else {
            lock = try VMLock(path: store.lockPath(target.vm.uuid), wait: configuration.lockWait) { "VM \(target.vm.name) is busy" }
        }
        defer { withExtendedLifetime(lock) {} }
        if target.existing == nil { recoverVaultRestores(holding: target.vm.uuid) }

        let knownVM = try db { () throws(CatalogError) in try catalog.read { try $0.vm(uuid: target.vm.uuid) } }
        let snapshotName = try uniqueName(manifest.snapshot, vm: target.vm)
        let snapshotID = Identifier.make("s-")
        let targets = try vaultFileTargets(manifest, vm: target.vm, snapshotID: snapshotID, options: options, clone: target.isClone)
        let journal = VaultRestoreJournal(
            targets: targets, snapshotID: snapshotID, createdVMRecord: knownVM == nil, definesDomain: target.existing == nil, start: options.start)
        var job = try jobJournal.start(
            kind: .vaultRestore, vm: target.vm, snapshotID: snapshotID, snapshotName: snapshotName, journal: SnapshotEngine.encode(journal))
        job.stage = VaultRestoreStage.materialize.rawValue
        jobJournal.note(job, "the materialize stage")

        let imported: SnapshotRecord
        let materialized = ContinuousClock.now
        do throws(EngineError) {
            var materializer = VaultMaterializer(repository: repository, manifest: manifest, progress: progress)
            materializer.afterFirstFile = { () throws(EngineError) in try self.inject(.vaultRestoreMaterialize) }
            try materializer.materialize(targets)
            imported = try importVaultSnapshot(
                manifest, targets: targets, vm: target.vm, createVM: knownVM == nil, snapshotID: snapshotID, name: snapshotName,
                clone: target.isClone ? options.newName : nil)
        } catch {
            VaultMaterializer.remove(targets)
            removeEmptyStoreDirectories(vmUUID: target.vm.uuid)
            jobJournal.finish(job, error: EngineError(error.code, "\(error.message); nothing was changed"))
            throw EngineError(error.code, "\(error.message); nothing was changed on this host")
        }
        let materializeSeconds = (ContinuousClock.now - materialized).seconds
        job.stage = VaultRestoreStage.imported.rawValue
        jobJournal.note(job, "the import")

        var report = VaultRestoreReport(
            vault: options.vault, vm: target.vm.name, vmUUID: target.vm.uuid, snapshot: imported.name, vaultSnapshot: manifest.snapshot,
            createdVM: target.existing == nil, restoredMemory: false, diskFormat: options.raw ? "raw" : "qcow2",
            disks: targets.disks.map(\.path), bytesWritten: manifest.restoreBytes, materializeSeconds: materializeSeconds,
            seconds: 0, finalState: "", notices: [], restore: nil)
        if target.isClone && manifest.hasMemory {
            report.notices.append("the new VM boots from the snapshot's disks: libvirt cannot load a memory image under a new UUID")
        }
        do throws(EngineError) {
            if let domain = target.existing {
                let restored = try restorer.restore(domain: domain, vm: target.vm, snapshotName: imported.name, options: options.restore, onStage: nil)
                report.restoredMemory = restored.restoredMemory
                report.finalState = restored.finalState
                report.restore = restored
            } else {
                report.finalState = try defineAndRevert(vm: target.vm, snapshot: imported, start: options.start, targets: targets)
                report.restoredMemory = imported.hasMemory && options.start != .off
            }
        } catch {
            jobJournal.finish(job, error: error)
            throw error
        }
        jobJournal.finish(job, error: nil)
        report.seconds = (ContinuousClock.now - began).seconds
        return report
    }

    /// The VM the restore writes into, and the refusals that come before anything changes.
    private func vaultRestoreTarget(_ manifest: VaultManifest, _ options: VaultRestoreOptions) throws(EngineError) -> VaultRestoreTarget {
        if let newName = options.newName {
            try Self.validateVMName(newName)
            if (try? connection.lookupDomain(name: newName)) != nil { throw EngineError(.conflict, "a VM named '\(newName)' already exists") }
            let record = VMRecord(uuid: UUID().uuidString.lowercased(), name: newName, createdAt: clock.now())
            return VaultRestoreTarget(vm: record, existing: nil, isClone: true)
        }
        let byUUID = try? connection.lookupDomain(uuid: manifest.vmUUID)
        let byName = try? connection.lookupDomain(name: manifest.vm)
        guard let domain = byUUID ?? byName else {
            let known = try db { () throws(CatalogError) in try catalog.read { try $0.vm(uuid: manifest.vmUUID) } }
            var record = known ?? VMRecord(uuid: manifest.vmUUID, name: manifest.vm, createdAt: clock.now())
            record.name = manifest.vm
            return VaultRestoreTarget(vm: record, existing: nil, isClone: false)
        }
        let uuid = try lv("cannot read VM UUID") { () throws(LibvirtError) in try domain.uuidString }
        guard uuid.lowercased() == manifest.vmUUID.lowercased() else {
            throw EngineError(
                .conflict,
                "VM \(domain.name) on this host has UUID \(uuid), the vault's VM \(manifest.vmUUID): restore it --as a new VM; nothing was changed")
        }
        guard let confirm = options.confirm else {
            throw EngineError(
                .invalidInput,
                "VM \(domain.name) exists on this host and the restore replaces its current state: pass --confirm \(domain.name); nothing was changed")
        }
        guard RestorePlan.confirmationMatches(typed: confirm, vmName: domain.name) else {
            throw EngineError(.invalidInput, "--confirm '\(confirm)' does not match the VM name '\(domain.name)'; nothing was changed")
        }
        return VaultRestoreTarget(vm: try vmRecord(for: domain), existing: domain, isClone: false)
    }

    /// Fresh paths for every file: layers in the store (or `--disk-dir`), memory and NVRAM in the store.
    private func vaultFileTargets(
        _ manifest: VaultManifest, vm: VMRecord, snapshotID: String, options: VaultRestoreOptions, clone: Bool
    ) throws(EngineError) -> VaultFileTargets {
        if let directory = options.diskDirectory { try Self.requireUsableDiskDirectory(directory) }
        try store.prepare(vmUUID: vm.uuid)
        let format = options.raw ? "raw" : "qcow2"
        let disks = manifest.disks.map { disk in
            let id = Identifier.make("l-")
            let path =
                options.diskDirectory.map { "\($0)/\(id).\(format)" }
                ?? (store.layersDirectory(vm.uuid) + "/\(id).\(format)")
            return VaultFileTargets.Disk(target: disk.target, path: path, format: format)
        }
        return VaultFileTargets(
            disks: disks,
            memory: manifest.memory != nil && manifest.hasMemory && !clone ? store.memoryPath(vmUUID: vm.uuid, snapshotID: snapshotID) : nil,
            nvram: manifest.nvram != nil ? store.nvramPath(vmUUID: vm.uuid, snapshotID: snapshotID) : nil)
    }

    /// Refuses a `--disk-dir` the disks cannot be written into (relative, not a directory, not
    /// writable: `/proc`), before anything is changed: a directory made here is removed again.
    static func requireUsableDiskDirectory(_ directory: String) throws(EngineError) {
        guard directory.hasPrefix("/") else { throw EngineError(.invalidInput, "--disk-dir must be an absolute path, not '\(directory)'; nothing was changed") }
        let existed = FileManager.default.fileExists(atPath: directory)
        do { try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true) } catch {
            throw EngineError(.invalidInput, "--disk-dir \(directory) is not a directory kvmsnap can create or use; nothing was changed")
        }
        let probe = directory + "/.kvmsnap-probe-" + Identifier.make("")
        let fd = open(probe, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0o600)
        let written = fd >= 0 && write(fd, "k", 1) == 1
        let reason = String(cString: strerror(errno))
        if fd >= 0 {
            close(fd)
            unlink(probe)
        }
        guard written else {
            if !existed { rmdir(directory) }
            throw EngineError(.invalidInput, "--disk-dir \(directory) is not a directory kvmsnap can write disks into (\(reason)); nothing was changed")
        }
    }

    /// Removes the VM's store directories when they are empty (a refused restore made them).
    func removeEmptyStoreDirectories(vmUUID: String) {
        for dir in [store.layersDirectory(vmUUID), store.memoryDirectory(vmUUID), store.nvramDirectory(vmUUID), store.vmDirectory(vmUUID), store.root + "/vms"]
        {
            rmdir(dir)  // only empty ones go
        }
    }
}
