import Foundation
import KVMSnapCore
import Libvirt
import SnapshotCatalog
import Synchronization

/// One lab VM's reset: how long it took and why it failed, if it did.
public struct LabResetResult: Sendable, Encodable {
    public var vm: String
    public var baseline: String?
    public var seconds: Double
    public var error: String?
}

extension Restorer {
    /// Restores snapshot `name` of `vm` into a new VM `newName`: new UUID, new MAC addresses,
    /// standalone disk copies (so the original's later deletions can never touch it), its own
    /// NVRAM and console files. The original VM and its snapshots are not touched. The caller
    /// checked `newName` and holds the VM's lock.
    ///
    /// libvirt refuses to load a memory image under another UUID ("Target domain uuid … does not
    /// match source"), so the new VM boots from the snapshot's disks; a notice says so.
    func restoreAsNewVM(vm: VMRecord, snapshot name: String, newName: String, start: StartMode) throws(EngineError) -> (uuid: String, notices: [String]) {
        let snapshot = try readySnapshot(vm: vm, name: name)
        try validateRestorable(vm: vm, snapshot: snapshot)
        var notices: [String] = []
        if snapshot.hasMemory {
            notices.append("the new VM boots from the snapshot's disks: libvirt cannot load a memory image under a new UUID")
        }
        let newUUID = UUID().uuidString.lowercased()
        let disks = try db { () throws(CatalogError) in try catalog.read { try $0.disks(ofSnapshot: snapshot.id) } }
        let layers = try db { () throws(CatalogError) in try catalog.read { try $0.layers(vmUUID: vm.uuid) } }
        var config = try DomainDefinition(xml: snapshot.configXML)
        var newNVRAM: String?
        var written: [String] = []
        var defined: Domain?
        do throws(EngineError) {
            try store.prepare(vmUUID: newUUID)
            if let saved = snapshot.nvramPath, let original = config.nvramPath {
                let path = ((original as NSString).deletingLastPathComponent as NSString).appendingPathComponent("\(newName)_VARS.fd")
                do { try FileManager.default.copyItem(atPath: saved, toPath: path) } catch {
                    throw EngineError(.io, "cannot copy NVRAM to \(path): \(error.localizedDescription)")
                }
                newNVRAM = path
            }
            try config.makeClone(name: newName, nvramPath: newNVRAM)
            try config.setUUID(newUUID)
            try config.renameFileOutputs(suffix: newName)
            for disk in disks {
                guard let layer = layers.first(where: { $0.id == disk.layerID }) else { continue }
                let path = store.layerPath(vmUUID: newUUID, layerID: Identifier.make("l-"))
                progress?("copy \(disk.diskTarget)", nil)
                try ImageTool.flatten(source: layer.path, to: path)
                written.append(path)
                try config.setDiskSource(target: disk.diskTarget, path: path, format: "qcow2")
            }
            let newDomain = try lv("cannot define the new VM") { () throws(LibvirtError) in try connection.defineDomain(xml: config.xml) }
            defined = newDomain
            if start != .off {
                try lv("cannot start the new VM") { () throws(LibvirtError) in try newDomain.start(flags: start == .paused ? [.paused] : []) }
                try inject(.cloneAfterStart)
            }
        } catch {
            // A start can fail after QEMU started: the new VM's files go only once it is gone.
            // Only the domain defined here: a VM that took the name meanwhile is someone else's.
            if let defined, let kept = removeNewVM(defined) {
                throw EngineError(error.code, "\(error.message); the new VM \(newName) could not be removed (\(kept.message)), so its disks were kept")
            }
            for path in written { unlink(path) }
            if let newNVRAM { unlink(newNVRAM) }
            // The new VM's store directory was made here with a fresh UUID: nothing else is in it.
            try? FileManager.default.removeItem(atPath: store.vmDirectory(newUUID))
            throw error
        }
        return (newUUID, notices)
    }

    /// Stops and undefines a VM a failed `restore --as` created; nil once it is gone (or never
    /// was), else why it could not be removed (then it may still run on its new disks).
    func removeNewVM(_ created: Domain) -> EngineError? {
        do throws(LibvirtError) {
            if try created.isActive { try created.destroy() }
            try created.undefine(flags: [.nvram])
            return nil
        } catch  where error.code == .noDomain {
            return nil
        } catch {
            return EngineError(.libvirt, error.message)
        }
    }

    /// Writes disk `disk` as it was at snapshot `name` to `destination` as a standalone image.
    /// The caller checked `format` and `destination` and holds the VM's lock.
    func exportDisk(vm: VMRecord, snapshot name: String, disk: String, to destination: String, format: String) throws(EngineError) {
        let snapshot = try readySnapshot(vm: vm, name: name)
        let (records, layers) = try db { () throws(CatalogError) in
            try catalog.read { db in (try db.disks(ofSnapshot: snapshot.id), try db.layers(vmUUID: vm.uuid)) }
        }
        guard let record = records.first(where: { $0.diskTarget == disk }), let layer = layers.first(where: { $0.id == record.layerID }) else {
            throw EngineError(.notFound, "snapshot '\(name)' has no disk \(disk) (it has \(records.map(\.diskTarget).joined(separator: ", ")))")
        }
        progress?("export \(disk)", nil)
        try ImageTool.flatten(source: layer.path, to: destination, format: format)
        chmod(destination, 0o600)
    }

    // MARK: Labs

    /// Makes snapshot `name` the lab baseline of `vm`; the caller holds the VM's lock.
    func markLab(vm: VMRecord, baseline name: String) throws(EngineError) {
        let snapshot = try readySnapshot(vm: vm, name: name)
        try setLabBaseline(snapshot.id, vm: vm)
    }

    func unmarkLab(vm: VMRecord) throws(EngineError) {
        try setLabBaseline(nil, vm: vm)
    }

    private func setLabBaseline(_ id: String?, vm: VMRecord) throws(EngineError) {
        try db { () throws(CatalogError) in
            try catalog.write { db in
                guard var record = try db.vm(uuid: vm.uuid) else { return }
                record.labBaselineID = id
                try db.save(record)
            }
        }
    }

    /// The lab VM's baseline snapshot; refused (conflict) for a VM that is not a lab VM.
    func labBaseline(of vm: VMRecord) throws(EngineError) -> SnapshotRecord {
        guard let baselineID = vm.labBaselineID,
            let baseline = try db({ () throws(CatalogError) in try catalog.read { try $0.snapshot(id: baselineID) } })
        else {
            throw EngineError(
                .conflict,
                "VM \(vm.name) is not a lab VM (no baseline): use 'kvmsnap restore \(vm.name) SNAPSHOT' instead, or mark it with 'kvmsnap lab mark \(vm.name) "
                    + "--baseline SNAPSHOT'"
            )
        }
        return baseline
    }

    /// Reverts each lab VM to its baseline, in parallel, through `revert` (which takes the VM's
    /// lock and runs the revert job); a failure is that VM's result, not an error.
    func resetLabs(
        _ targets: [(VMRecord, SnapshotRecord)],
        revert: @escaping @Sendable (VMRecord, SnapshotRecord) throws(EngineError) -> Void
    ) -> [LabResetResult] {
        let results = ResultBox(count: targets.count)
        let work = targets
        // One thread per VM: a reset mostly waits (QEMU exiting, libvirt, reading the memory
        // image), and DispatchQueue.concurrentPerform runs only as many at once as there are cores.
        let group = DispatchGroup()
        for index in work.indices {
            group.enter()
            let thread = Thread {
                let (vm, baseline) = work[index]
                let began = ContinuousClock.now
                var failure: String?
                do throws(EngineError) {
                    try revert(vm, baseline)
                } catch { failure = error.message }
                results.set(index, LabResetResult(vm: vm.name, baseline: baseline.name, seconds: (ContinuousClock.now - began).seconds, error: failure))
                group.leave()
            }
            thread.start()
        }
        group.wait()
        return results.values
    }
}

/// The lab reset's per-VM results, written from one thread per VM.
private final class ResultBox: Sendable {
    private let storage: Mutex<[LabResetResult?]>
    init(count: Int) { storage = Mutex(Array(repeating: nil, count: count)) }
    func set(_ index: Int, _ value: LabResetResult) { storage.withLock { $0[index] = value } }
    var values: [LabResetResult] { storage.withLock { $0.compactMap { $0 } } }
}
