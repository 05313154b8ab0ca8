import Foundation
import GRDB

extension Catalog {
    /// Issue 13: the vaults this host sends to, and which local snapshot each send copied.
    static func registerVaultMigrations(_ migrator: inout DatabaseMigrator) {
        migrator.registerMigration("v5-vault") { db in
            try db.create(table: "vault") { t in
                t.primaryKey("name", .text)
                t.column("location", .text).notNull()
                t.column("keyFile", .text)
                t.column("encrypted", .boolean).notNull()
                t.column("addedAt", .datetime).notNull()
            }
            // No foreign key to `snapshot`: a send stays on record after the local snapshot is pruned.
            try db.create(table: "vaultSend") { t in
                t.column("vaultName", .text).notNull().references("vault", onDelete: .cascade)
                t.column("vmUUID", .text).notNull()
                t.column("snapshotID", .text).notNull()
                t.column("snapshotName", .text).notNull()
                t.column("sentAt", .datetime).notNull()
                t.primaryKey(["vaultName", "snapshotID"])
            }
            try db.create(index: "vaultSend_by_vm", on: "vaultSend", columns: ["vmUUID", "vaultName", "sentAt"])
        }
    }
}

/// A vault this host knows (`kvmsnap vault add`). The location is a directory path today;
/// `ssh://` and `s3://` locations come with their backends.
public struct VaultRecord: Codable, Sendable, Equatable, FetchableRecord, PersistableRecord {
    public static let databaseTableName = "vault"
    public var name: String
    public var location: String
    /// The 0600 file holding the vault's key-encryption key (encrypted vaults only).
    public var keyFile: String?
    public var encrypted: Bool
    public var addedAt: Date
    public init(name: String, location: String, keyFile: String?, encrypted: Bool, addedAt: Date) {
        self.name = name; self.location = location; self.keyFile = keyFile; self.encrypted = encrypted; self.addedAt = addedAt
    }
}

/// One local snapshot copied to a vault (`kvmsnap send`). The newest one per VM and vault that
/// still exists locally is that vault's *anchor*: the base of the next incremental send, kept by
/// local retention until a newer one is sent.
public struct VaultSendRecord: Codable, Sendable, Equatable, FetchableRecord, PersistableRecord {
    public static let databaseTableName = "vaultSend"
    public var vaultName: String
    public var vmUUID: String
    public var snapshotID: String
    public var snapshotName: String
    public var sentAt: Date
    public init(vaultName: String, vmUUID: String, snapshotID: String, snapshotName: String, sentAt: Date) {
        self.vaultName = vaultName; self.vmUUID = vmUUID; self.snapshotID = snapshotID; self.snapshotName = snapshotName; self.sentAt = sentAt
    }
}

extension CatalogAccess {
    public func vaults() throws -> [VaultRecord] { try VaultRecord.order(Column("name")).fetchAll(db) }
    public func vault(named name: String) throws -> VaultRecord? { try VaultRecord.fetchOne(db, key: name) }
    public func save(_ vault: VaultRecord) throws { try vault.save(db) }
    @discardableResult public func deleteVault(named name: String) throws -> Bool { try VaultRecord.deleteOne(db, key: name) }

    public func save(_ send: VaultSendRecord) throws { try send.save(db) }

    /// Sends of `vmUUID` to `vaultName` whose local snapshot still exists and is ready, newest first.
    public func localSends(vaultName: String, vmUUID: String) throws -> [VaultSendRecord] {
        try VaultSendRecord.fetchAll(
            db,
            sql: """
                SELECT vaultSend.* FROM vaultSend JOIN snapshot ON snapshot.id = vaultSend.snapshotID
                WHERE vaultSend.vaultName = ? AND vaultSend.vmUUID = ? AND snapshot.state = 'ready'
                ORDER BY vaultSend.sentAt DESC
                """, arguments: [vaultName, vmUUID])
    }

    /// The anchors of `vmUUID`: snapshot id → the vaults whose newest locally kept send it is.
    /// (SQLite returns the bare `snapshotID` of the row holding `MAX(sentAt)` in each group.)
    public func vaultAnchors(vmUUID: String) throws -> [String: [String]] {
        let rows = try Row.fetchAll(
            db,
            sql: """
                SELECT vaultSend.vaultName AS vault, vaultSend.snapshotID AS id, MAX(vaultSend.sentAt) AS sentAt
                FROM vaultSend JOIN snapshot ON snapshot.id = vaultSend.snapshotID
                WHERE vaultSend.vmUUID = ? AND snapshot.state = 'ready'
                GROUP BY vaultSend.vaultName ORDER BY vaultSend.vaultName
                """, arguments: [vmUUID])
        return Dictionary(rows.map { ($0["id"] as String, [$0["vault"] as String]) }, uniquingKeysWith: +)
    }
}
