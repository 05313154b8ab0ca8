import Foundation
import Libvirt
import SnapshotCatalog

/// What `forget` dropped.
public struct ForgetResult: Sendable, Encodable {
    public var vm: String
    public var uuid: String
    public var snapshots: Int
    public var layers: Int
    /// Store files deleted (`--delete-files`), in the VM's store directory only.
    public var deletedFiles: [String]
    /// The VM's store directory when it is still there (files kept, or ones the catalog did not name).
    public var keptDirectory: String?
}

extension Snapshots {
    /// Drops the catalog rows of a VM that libvirt no longer has (undefined outside kvmsnap):
    /// its snapshots, layers, schedule state and own policy. Its jobs stay in the journal (the
    /// history of what was done), and a `forget` job records this. Store files are kept unless
    /// `deleteFiles`; then only files in the VM's store directory that the catalog names go
    /// (never an original image, never a file outside the store), and its directories when empty.
    /// The caller found `vm` with ``vanishedVM(_:)`` and holds its lock.
    func forget(vm: VMRecord, deleteFiles: Bool) throws(EngineError) -> ForgetResult {
        _ = try vanishedVM(vm.uuid)  // still gone now that we hold it
        let (snapshots, layers) = try db { () throws(CatalogError) in
            try catalog.read { db in (try db.snapshots(vmUUID: vm.uuid), try db.layers(vmUUID: vm.uuid)) }
        }
        var deleted: [String] = []
        if deleteFiles {
            // Files first, then rows: a crash in between leaves rows naming missing files, and
            // running forget again finishes.
            let inStore = store.vmDirectory(vm.uuid) + "/"
            let originals = Set(layers.filter { $0.role == .original }.map(\.path))
            let files = (layers.filter { $0.role != .original }.map(\.path) + snapshots.flatMap { [$0.memoryPath, $0.nvramPath].compactMap { $0 } })
                .filter { $0.hasPrefix(inStore) && !originals.contains($0) }
            // A VM libvirt has may run on one of them (re-defined from the vanished VM's XML).
            let used = try imagesVMsUse()
            if let file = files.first(where: { used[$0] != nil || used[($0 as NSString).standardizingPath] != nil }) {
                let user = used[file] ?? used[(file as NSString).standardizingPath] ?? "?"
                throw EngineError(
                    .conflict,
                    "cannot delete the files of \(vm.name): VM \(user) uses \(file); nothing was changed ('kvmsnap forget \(forgetArgument(vm))' without "
                        + "--delete-files keeps the files)"
                )
            }
            for file in files {
                if unlink(file) == 0 {
                    deleted.append(file)
                } else if errno != ENOENT {
                    throw EngineError(.io, "cannot delete \(file): \(String(cString: strerror(errno))); nothing was forgotten")
                }
            }
            for dir in [store.layersDirectory(vm.uuid), store.memoryDirectory(vm.uuid), store.nvramDirectory(vm.uuid), store.vmDirectory(vm.uuid)] {
                rmdir(dir)  // only when empty: files the catalog did not name stay
            }
        }
        let note =
            "forgot VM \(vm.name) (\(vm.uuid)): \(snapshots.count) snapshot(s), \(layers.count) layer(s)"
            + (deleteFiles ? ", \(deleted.count) store file(s) deleted" : ", store files kept")
        let now = clock.now()
        try db { () throws(CatalogError) in
            try catalog.write { db in
                _ = try db.forgetVM(uuid: vm.uuid, policyScope: SnapshotEngine.policyScope(vmUUID: vm.uuid))
                var job = JobRecord(kind: JobKind.forget, vmUUID: vm.uuid, vmName: vm.name, state: .succeeded, startedAt: now, pid: getpid())
                job.endedAt = now
                job.progress = 1
                job.note = note
                try db.insert(&job)
            }
        }
        let directory = store.vmDirectory(vm.uuid)
        return ForgetResult(
            vm: vm.name, uuid: vm.uuid, snapshots: snapshots.count, layers: layers.count, deletedFiles: deleted,
            keptDirectory: FileManager.default.fileExists(atPath: directory) ? directory : nil)
    }

    /// Every image a VM libvirt has may open, with that VM's name: what its definitions and live
    /// XML name (``imagesInUse(_:)``) and, read with qemu-img, the backing files below them.
    /// Throws when that cannot be told: a caller about to delete a file must then keep it.
    func imagesVMsUse() throws(EngineError) -> [String: String] {
        let domains = try lv("cannot list the VMs libvirt has") { () throws(LibvirtError) in try connection.allDomains() }
        var used: [String: String] = [:]
        for domain in domains {
            let images: Set<String>
            do { images = try layerStore.imagesInUse(domain) } catch {
                // Undefined since the listing (a VM being removed): it uses nothing any more.
                if let uuid = try? domain.uuidString, try !libvirtHas(VMRecord(uuid: uuid, name: domain.name, createdAt: clock.now())) { continue }
                throw error
            }
            for image in images {
                used[image] = domain.name
                guard FileManager.default.fileExists(atPath: image) else { continue }
                for path in try ImageTool.backingChain(image) { used[path] = domain.name }
            }
        }
        return used
    }

    /// The one catalog VM named or with UUID `nameOrUUID` that libvirt no longer has.
    func vanishedVM(_ nameOrUUID: String) throws(EngineError) -> VMRecord {
        let candidates = try db { () throws(CatalogError) in
            try catalog.read { db in try db.allVMs().filter { $0.name == nameOrUUID || $0.uuid.lowercased() == nameOrUUID.lowercased() } }
        }
        guard !candidates.isEmpty else { throw EngineError(.notFound, "the catalog has no VM named '\(nameOrUUID)'") }
        var vanished: [VMRecord] = []
        for vm in candidates where try !libvirtHas(vm) { vanished.append(vm) }
        guard let vm = vanished.first else {
            throw EngineError(
                .conflict,
                "VM \(nameOrUUID) (\(candidates[0].uuid)) is still defined in libvirt: forget is only for VMs undefined outside kvmsnap (delete its snapshots "
                    + "with 'kvmsnap delete'); nothing was changed"
            )
        }
        guard vanished.count == 1 else {
            throw EngineError(
                .conflict,
                "several vanished VMs are named '\(nameOrUUID)': give the UUID (\(vanished.map(\.uuid).joined(separator: ", "))); nothing was changed")
        }
        return vm
    }
}

extension EngineService {
    /// The refusal for a disk image the catalog records as a layer of another VM: with what
    /// to do when that VM vanished (`forget`), else that two VMs cannot share it.
    func imageOfAnotherVM(_ layer: LayerRecord, disk: String, vm: VMRecord) throws(EngineError) -> EngineError {
        guard let owner = try db({ () throws(CatalogError) in try catalog.read { try $0.vm(uuid: layer.vmUUID) } }) else {
            return EngineError(.conflict, "disk \(disk) of \(vm.name): \(layer.path) is recorded for VM \(layer.vmUUID) in the catalog; run 'kvmsnap check'")
        }
        if try libvirtHas(owner) {
            return EngineError(
                .conflict,
                "disk \(disk) of \(vm.name): \(layer.path) is a layer of VM \(owner.name) (\(owner.uuid)), which libvirt still has; two VMs cannot share an "
                    + "image; nothing was changed"
            )
        }
        return EngineError(
            .conflict,
            "disk \(disk) of \(vm.name) uses \(layer.path), still recorded for VM \(owner.name) (\(owner.uuid)), which is no longer defined in libvirt: run "
                + "'kvmsnap forget \(forgetArgument(owner))' first; nothing was changed"
        )
    }

    /// Whether libvirt still has the VM (by UUID); a failure that cannot tell is an error.
    func libvirtHas(_ vm: VMRecord) throws(EngineError) -> Bool {
        do { _ = try connection.lookupDomain(uuid: vm.uuid); return true } catch {
            if error.code == .noDomain { return false }
            throw EngineError(.libvirt, "cannot tell whether libvirt still has VM \(vm.name) (\(vm.uuid)): \(error.message)")
        }
    }

    /// How the user names a vanished VM to `forget`: its name, or its UUID when the name is
    /// ambiguous (another catalog VM or a libvirt VM has it, e.g. the VM re-created under it).
    func forgetArgument(_ vm: VMRecord) -> String {
        // Only picks the friendlier of two valid spellings: on a failed read the name is kept.
        let sameName = (try? catalog.read { try $0.allVMs().filter { $0.name == vm.name && $0.uuid != vm.uuid } })?.isEmpty == false
        let reused = (try? connection.lookupDomain(name: vm.name)) != nil
        let plain = !vm.name.isEmpty && vm.name.unicodeScalars.allSatisfy { CharacterSet.alphanumerics.contains($0) || "._-".unicodeScalars.contains($0) }
        return sameName || reused || !plain || vm.name.hasPrefix("-") ? vm.uuid : vm.name
    }
}
