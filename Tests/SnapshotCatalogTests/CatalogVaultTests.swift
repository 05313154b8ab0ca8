import Foundation
import Testing

@testable import SnapshotCatalog

/// Issue 13: the vault registry and the send records that pick the next incremental's base.
@Suite struct CatalogVaultTests {
    let dir = NSTemporaryDirectory() + "kvmsnap-catalog-vault-\(UUID().uuidString)"

    func snapshot(_ id: String, state: SnapshotState = .ready) -> SnapshotRecord {
        SnapshotRecord(
            id: id, vmUUID: "u1", name: "n-\(id)", kind: .incremental, parentID: nil,
            createdAt: Date(timeIntervalSince1970: 1_700_000_000), state: state, hasMemory: false, configXML: "<domain/>")
    }

    @Test func theAnchorIsTheNewestSendThatStillExistsLocallyPerVault() throws {
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let catalog = try Catalog(path: dir + "/catalog.sqlite")
        let t0 = Date(timeIntervalSince1970: 1_800_000_000)
        try catalog.write { db in
            try db.save(VMRecord(uuid: "u1", name: "vm1", createdAt: t0))
            for id in ["s1", "s2", "s3"] { try db.insert(snapshot(id)) }
            try db.save(VaultRecord(name: "nas", location: "/mnt/nas", keyFile: nil, encrypted: false, addedAt: t0))
            try db.save(VaultRecord(name: "usb", location: "/mnt/usb", keyFile: "/k", encrypted: true, addedAt: t0))
            try db.save(VaultSendRecord(vaultName: "nas", vmUUID: "u1", snapshotID: "s1", snapshotName: "n-s1", sentAt: t0))
            try db.save(VaultSendRecord(vaultName: "nas", vmUUID: "u1", snapshotID: "s2", snapshotName: "n-s2", sentAt: t0 + 60))
            try db.save(VaultSendRecord(vaultName: "usb", vmUUID: "u1", snapshotID: "s1", snapshotName: "n-s1", sentAt: t0 + 120))
        }
        #expect(try catalog.read { try $0.vaults().map(\.name) } == ["nas", "usb"])
        #expect(try catalog.read { try $0.vaultAnchors(vmUUID: "u1") } == ["s2": ["nas"], "s1": ["usb"]])
        #expect(try catalog.read { try $0.localSends(vaultName: "nas", vmUUID: "u1").map(\.snapshotID) } == ["s2", "s1"])
        // The newest send's snapshot is deleted locally: the previous one becomes the anchor.
        _ = try catalog.write { try SnapshotRecord.deleteOne($0.db, key: "s2") }
        #expect(try catalog.read { try $0.vaultAnchors(vmUUID: "u1") } == ["s1": ["nas", "usb"]])
        // Removing a vault forgets its sends.
        try catalog.write { _ = try $0.deleteVault(named: "usb") }
        #expect(try catalog.read { try $0.vaultAnchors(vmUUID: "u1") } == ["s1": ["nas"]])
    }
}
