import Foundation
import KVMSnapCore
import Libvirt
import SnapshotCatalog

extension SnapshotEngine {
    /// Finishes a killed vault restore that had imported its snapshot and defines the domain
    /// itself (`--as`, or the VM was not on this host): the domain may be defined on the imported
    /// layers (the restore point's own files), so it is reverted onto new overlays, as the restore
    /// would have done. If that fails, a domain still on those layers is undefined: nothing may
    /// write into the restore point. The caller holds the VM's lock.
    func finishVaultRevert(_ job: JobRecord, journal: VaultRestoreJournal, snapshot: SnapshotRecord) -> RecoveryOutcome {
        let died = "interrupted (kvmsnap process \(job.pid) died) after the vault snapshot was imported as snapshot '\(snapshot.name)'"
        let start = journal.start ?? .off
        var domain = try? connection.lookupDomain(uuid: snapshot.vmUUID)
        do throws(EngineError) {
            guard let vm = try db({ () throws(CatalogError) in try catalog.read { try $0.vm(uuid: snapshot.vmUUID) } }) else {
                return .abandoned("\(died); the VM is no longer in the catalog")
            }
            if domain == nil {
                domain = try lv("cannot define the VM") { () throws(LibvirtError) in try connection.defineDomain(xml: snapshot.configXML) }
            }
            guard let domain else { return .abandoned("\(died); the VM could not be defined") }
            if try restorer.revertProgress(domain: domain, snapshot: snapshot, start: start).tookEffect {
                try restorer.markCurrent(snapshot.id, vm: vm)
                try layerStore.reclaim(vmUUID: vm.uuid, domain: domain)
                return .completed("\(died) and reverted to it; bookkeeping finished")
            }
            try restorer.revertLocked(domain: domain, vm: vm, snapshot: snapshot, start: start)
            return .completed("\(died); finished from the journal: the VM was reverted to it on new overlays (\(start.rawValue))")
        } catch {
            return .failed(EngineError(error.code, "\(died); finishing the revert failed: \(error.message)\(unhookFrozen(domain, journal: journal))"))
        }
    }

    /// Undefines a domain this restore defined when its disks are the imported (frozen) layers;
    /// returns what was done, for the job's message.
    private func unhookFrozen(_ domain: Domain?, journal: VaultRestoreJournal) -> String {
        guard let domain, let sources = try? layerStore.currentDiskSources(domain) else { return "" }
        let frozen = Set(journal.targets.disks.map(\.path))
        guard sources.values.contains(where: frozen.contains) else { return "" }
        if let kept = restorer.removeNewVM(domain) {
            return "; the VM is still defined on the snapshot's own layers and could not be undefined (\(kept.message)): do not start it"
        }
        return "; the VM was undefined (it named the snapshot's own layers); restore it again with 'kvmsnap restore --from-vault'"
    }
}
