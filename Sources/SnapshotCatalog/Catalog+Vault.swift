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
        // Issue 14: how to reach a remote vault (S3 endpoint, region, credentials file path,
        // parallel transfers), one JSON column. Never a secret.
        migrator.registerMigration("v6-vault-s3") { db in
            try db.alter(table: "vault") { t in t.add(column: "options", .text) }
        }
    }
}

/// How to reach a remote vault, stored with its record (as JSON). Secrets never: only the path
/// of a 0600 credentials file.
public struct VaultOptions: Codable, Sendable, Equatable {
    /// S3: `http(s)://host[:port]` of the server.
    public var endpoint: String?
    /// S3: the region to sign for (default us-east-1).
    public var region: String?
    /// S3: an AWS-style credentials file (mode 0600); without it the environment's
    /// `AWS_ACCESS_KEY_ID` / `AWS_SECRET_ACCESS_KEY`.
    public var credentialsFile: String?
    /// Chunks stored in parallel by a send (default: one per core).
    public var jobs: Int?
    public init(endpoint: String? = nil, region: String? = nil, credentialsFile: String? = nil, jobs: Int? = nil) {
        self.endpoint = endpoint; self.region = region; self.credentialsFile = credentialsFile; self.jobs = jobs
    }
}

/// A vault this host knows (`kvmsnap vault add`): a directory path, or an `s3://` location with
/// its options.
public struct VaultRecord: Codable, Sendable, Equatable, FetchableRecord, PersistableRecord {
    public static let databaseTableName = "vault"
    public var name: String
    public var location: String
    /// The 0600 file holding the vault's key-encryption key (encrypted vaults only).
    public var keyFile: String?
    public var encrypted: Bool
    public var addedAt: Date
    /// Remote vaults: endpoint, region, credentials file, jobs (nil for a directory vault).
    public var options: VaultOptions?
    public init(name: String, location: String, keyFile: String?, encrypted: Bool, addedAt: Date, options: VaultOptions? = nil) {
        self.name = name; self.location = location; self.keyFile = keyFile; self.encrypted = encrypted; self.addedAt = addedAt
        self.options = options
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
