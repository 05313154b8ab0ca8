import Foundation
import KVMSnapCore
import Libvirt
import SnapshotCatalog
import Vault

extension Drills {
    /// The clone's own directory (overlays, NVRAM, console log): the store directory of its UUID,
    /// removed with it.
    func workDirectory(_ plan: DrillJournal) -> String { store.vmDirectory(plan.cloneUUID) }

    /// Defines and starts the clone of `snapshot`: a qcow2 overlay per disk over the snapshot's
    /// frozen layer (copy-on-write: the snapshot is never written), the VM's other disks
    /// dropped, its serial logs in the work directory, every NIC on the isolated network
    /// (created here, transient) with a new MAC. It boots from the snapshot's disks: libvirt
    /// refuses to load a memory image under another UUID (see `restore --as`). On a failure
    /// everything made here is removed again (``cleanUp(_:)``).
    func buildClone(vm: VMRecord, snapshot: SnapshotRecord, plan: DrillJournal, vault: DrillVaultSource?) throws(EngineError) -> DrillClone {
        do throws(EngineError) {
            let directory = workDirectory(plan)
            try store.prepare(vmUUID: plan.cloneUUID)
            var config = try DomainDefinition(xml: snapshot.configXML)
            let nvramPath = config.nvramPath == nil ? nil : store.layersDirectory(plan.cloneUUID) + "/\(plan.clone)_VARS.fd"
            let provided: (disks: [(target: String, path: String)], nvram: String?)
            if let vault {
                provided = try rebuildDisks(vault, plan: plan, nvram: nvramPath)
            } else {
                provided = try overlayDisks(vm: vm, snapshot: snapshot, plan: plan, nvram: nvramPath)
            }
            try config.makeClone(name: plan.clone, nvramPath: provided.nvram)
            try config.setUUID(plan.cloneUUID)
            try config.keepOnlyDisks(Set(provided.disks.map(\.target)))
            for disk in provided.disks { try config.setDiskSource(target: disk.target, path: disk.path, format: "qcow2") }
            let logs = try config.relocateFileOutputs(to: directory)
            try config.releaseHostEndpoints()
            if let network = plan.network {
                try config.isolateInterfaces(network: network)
                let id = String(network.dropFirst(DrillNetwork.namePrefix.count))
                _ = try lv("cannot create the isolated network \(network)") { () throws(LibvirtError) in
                    try connection.createTransientNetwork(xml: DrillNetwork.xml(id: id))
                }
            }
            let domain = try lv("cannot define the drill clone \(plan.clone)") { () throws(LibvirtError) in
                try connection.defineDomain(xml: config.xml)
            }
            configuration.progress?("boot \(plan.clone)", nil)
            try lv("cannot start the drill clone \(plan.clone)") { () throws(LibvirtError) in try domain.start() }
            return DrillClone(plan: plan, domain: domain, serialLogs: logs)
        } catch {
            if let leftover = cleanUp(plan) {
                throw EngineError(error.code, "\(error.message); \(leftover.message)")
            }
            throw error
        }
    }

    /// A qcow2 overlay per disk over the snapshot's frozen layer, and a copy of its NVRAM.
    private func overlayDisks(vm: VMRecord, snapshot: SnapshotRecord, plan: DrillJournal, nvram: String?) throws(EngineError) -> (
        disks: [(target: String, path: String)], nvram: String?
    ) {
        let (disks, layers) = try db { () throws(CatalogError) in
            try catalog.read { db in (try db.disks(ofSnapshot: snapshot.id), try db.layers(vmUUID: vm.uuid)) }
        }
        var copied: String?
        if let saved = snapshot.nvramPath, let nvram {
            do { try FileManager.default.copyItem(atPath: saved, toPath: nvram) } catch {
                throw EngineError(.io, "cannot copy NVRAM to \(nvram): \(error.localizedDescription)")
            }
            copied = nvram
        }
        var result: [(target: String, path: String)] = []
        for disk in disks {
            guard let layer = layers.first(where: { $0.id == disk.layerID }) else {
                throw EngineError(.notFound, "snapshot '\(snapshot.name)' has no layer for \(disk.diskTarget)")
            }
            let overlay = store.layerPath(vmUUID: plan.cloneUUID, layerID: Identifier.make("l-"))
            try ImageTool.createOverlay(path: overlay, backing: layer.path, backingFormat: "qcow2")
            result.append((disk.diskTarget, overlay))
        }
        return (result, copied)
    }

    /// The vault snapshot's disks (qcow2) and NVRAM rebuilt into the clone's directory
    /// (``VaultMaterializer``: every chunk checked as it is read); no memory image.
    private func rebuildDisks(_ source: DrillVaultSource, plan: DrillJournal, nvram: String?) throws(EngineError) -> (
        disks: [(target: String, path: String)], nvram: String?
    ) {
        let targets = VaultFileTargets(
            disks: source.manifest.disks.map { disk in
                VaultFileTargets.Disk(target: disk.target, path: store.layerPath(vmUUID: plan.cloneUUID, layerID: Identifier.make("l-")), format: "qcow2")
            },
            memory: nil, nvram: source.manifest.nvram != nil ? nvram : nil)
        configuration.progress?("rebuild from vault \(source.name)", nil)
        try VaultMaterializer(repository: source.repository, manifest: source.manifest, progress: configuration.progress).materialize(targets)
        return (targets.disks.map { ($0.target, $0.path) }, targets.nvram)
    }

    /// Removes the clone (only the domain with the planned name *and* UUID: a VM that took the
    /// name is someone else's), its isolated network and its directory. Idempotent: recovery
    /// calls it again for a drill whose process died. Nil once all is gone, else what is left.
    func cleanUp(_ plan: DrillJournal) -> EngineError? {
        var problems: [String] = []
        do throws(LibvirtError) {
            let domain = try connection.lookupDomain(name: plan.clone)
            if (try? domain.uuidString.lowercased()) == plan.cloneUUID, let kept = restorer.removeNewVM(domain) {
                problems.append("the drill clone \(plan.clone) could not be removed (\(kept.message))")
            }
        } catch  where error.code == .noDomain {
        } catch {
            problems.append("cannot look up the drill clone \(plan.clone): \(error.message)")
        }
        if let name = plan.network {
            do throws(LibvirtError) {
                let network = try connection.lookupNetwork(name: name)
                if try network.isActive { try network.destroy() }
                if try network.isPersistent { try network.undefine() }
            } catch  where error.code == .noNetwork {
            } catch {
                problems.append("the isolated network \(name) could not be removed (\(error.message))")
            }
        }
        // The clone's files go only once no QEMU can have them open any more.
        if problems.isEmpty {
            do {
                if FileManager.default.fileExists(atPath: workDirectory(plan)) { try FileManager.default.removeItem(atPath: workDirectory(plan)) }
            } catch {
                problems.append("cannot remove \(workDirectory(plan)): \(error.localizedDescription)")
            }
        }
        return problems.isEmpty ? nil : EngineError(.libvirt, problems.joined(separator: "; "))
    }

    /// A drill whose process died: its clone, network and files are removed, as the drill
    /// itself would have; no report is recorded (the checks' results died with it).
    func recover(_ job: JobRecord) -> RecoveryOutcome {
        guard let plan = job.decodedJournal(DrillJournal.self) else {
            return .abandoned("interrupted (kvmsnap process \(job.pid) died); its journal is unreadable, look for drill-* VMs by hand")
        }
        if let leftover = cleanUp(plan) { return .failed(leftover) }
        return .rolledBack("interrupted (kvmsnap process \(job.pid) died); the drill clone \(plan.clone) and its network and overlays were removed")
    }
}
