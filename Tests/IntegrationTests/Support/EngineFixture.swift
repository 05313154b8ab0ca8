import Foundation
import Libvirt
import SnapshotCatalog
import SnapshotEngine

/// A test guest plus a kvmsnap engine whose catalog and store live in the guest's directory.
final class EngineFixture: @unchecked Sendable {
    let guest: TestGuest
    let engine: SnapshotEngine
    var catalogPath: String { guest.directory + "/catalog.sqlite" }
    var storePath: String { guest.directory + "/store" }

    init(
        tag: String, diskMiB: [Int] = [64], memoryMiB: Int = 256, cmdline: String = "", ext4MiB: Int? = nil,
        uefi: Bool = false, start: Bool = true
    ) throws {
        guest = try TestGuest(tag: tag, diskMiB: diskMiB, memoryMiB: memoryMiB, cmdline: cmdline, ext4MiB: ext4MiB, uefi: uefi, start: start)
        do {
            let catalog = try Catalog(path: guest.directory + "/catalog.sqlite")
            engine = SnapshotEngine(connection: guest.connection, catalog: catalog, store: StoreLayout(root: guest.directory + "/store"))
        } catch {
            guest.destroy()
            throw error
        }
    }

    func destroy() { guest.destroy() }

    /// The guest's newest job of `kind` in the journal.
    func lastJob(_ kind: String) throws -> JobRecord? {
        let uuid = try engine.catalogVM(guest.name).uuid
        return try engine.catalog.read { try $0.jobs(vmUUID: uuid, limit: 10) }.first { $0.kind == kind }
    }

    /// Takes a snapshot and returns the counter value its frozen vda layer holds.
    @discardableResult
    func snapshot(_ name: String, full: Bool = false, diskOnly: Bool = false) throws -> (record: SnapshotRecord, diskCounter: Int?) {
        var options = CreateOptions(name: name)
        options.full = full
        options.diskOnly = diskOnly
        let result = try engine.createSnapshot(vm: guest.name, options: options)
        let layer = try frozenLayerPath(result.snapshot.id, disk: "vda")
        return (result.snapshot, try TestGuest.diskCounter(layer))
    }

    func frozenLayerPath(_ snapshotID: String, disk: String) throws -> String {
        try engine.catalog.read { db -> String in
            guard let record = try db.disks(ofSnapshot: snapshotID).first(where: { $0.diskTarget == disk }),
                let layer = try db.layer(id: record.layerID)
            else { throw TestGuestError("no layer for \(disk)") }
            return layer.path
        }
    }
}
