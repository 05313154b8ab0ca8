import Foundation
import KVMSnapCore
import SnapshotCatalog
import Vault

/// `vault extract`: a vault snapshot's files written into a directory, without libvirt and
/// without changing the catalog (which only names the vault and its key): for hosts without
/// libvirt, for inspecting a snapshot, and for comparing restore speed with other tools.
public enum VaultExtraction {
    /// Writes `<dir>/<target>.qcow2` (or `.raw`) per disk, `memory.img`, `nvram.fd` and
    /// `domain.xml`. Refuses when any of them exists already; a failure leaves none of them.
    /// - Throws: ``EngineError`` naming a missing or damaged object, a wrong key, or a file problem.
    public static func extract(
        catalog: Catalog, store: StoreLayout, vault name: String, vm: String, snapshot: String, to directory: String, raw: Bool,
        progress: ProgressHandler? = nil
    ) throws(EngineError) -> VaultExtractReport {
        let began = ContinuousClock.now
        let vaults = Vaults(catalog: catalog, store: store, clock: SystemClock())
        let (repository, manifest) = try vaults.restorable(vault: name, vm: vm, snapshot: snapshot)
        guard directory.hasPrefix("/") else { throw EngineError(.invalidInput, "--to must be an absolute path, not '\(directory)'") }
        // The directories this call makes (outermost first), removed again when it fails.
        var made: [String] = []
        var parent = (directory as NSString).standardizingPath
        while parent != "/", !FileManager.default.fileExists(atPath: parent) {
            made.insert(parent, at: 0)
            parent = (parent as NSString).deletingLastPathComponent
        }
        do { try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true) } catch {
            for dir in made.reversed() { rmdir(dir) }
            throw EngineError(.io, "cannot create \(directory): \(error.localizedDescription)")
        }
        do {
            return try extract(repository, manifest, vault: name, to: directory, raw: raw, progress: progress, began: began)
        } catch {
            // rmdir removes only what is still empty: a failed extract leaves no directory it made.
            for dir in made.reversed() { rmdir(dir) }
            throw error
        }
    }

    private static func extract(
        _ repository: VaultRepository, _ manifest: VaultManifest, vault name: String, to directory: String, raw: Bool,
        progress: ProgressHandler?, began: ContinuousClock.Instant
    ) throws(EngineError) -> VaultExtractReport {
        let format = raw ? "raw" : "qcow2"
        let targets = VaultFileTargets(
            disks: manifest.disks.map { .init(target: $0.target, path: "\(directory)/\($0.target).\(format)", format: format) },
            memory: manifest.memory.map { _ in "\(directory)/memory.img" },
            nvram: manifest.nvram.map { _ in "\(directory)/nvram.fd" })
        let xmlPath = "\(directory)/domain.xml"
        for path in targets.finals + [xmlPath] where FileManager.default.fileExists(atPath: path) {
            throw EngineError(.conflict, "\(path) already exists; kvmsnap does not overwrite files")
        }
        try VaultMaterializer(repository: repository, manifest: manifest, progress: progress).materialize(targets)
        var config = try DomainDefinition(xml: manifest.domainXML)
        for disk in targets.disks { try config.setDiskSource(target: disk.target, path: disk.path, format: disk.format) }
        do { try Data(config.xml.utf8).write(to: URL(fileURLWithPath: xmlPath), options: .atomic) } catch {
            VaultMaterializer.remove(targets)
            throw EngineError(.io, "cannot write \(xmlPath): \(error.localizedDescription)")
        }
        return VaultExtractReport(
            vault: name, vm: manifest.vm, vmUUID: manifest.vmUUID, snapshot: manifest.snapshot, directory: directory,
            files: targets.finals + [xmlPath], bytesWritten: manifest.restoreBytes, seconds: (ContinuousClock.now - began).seconds)
    }
}
