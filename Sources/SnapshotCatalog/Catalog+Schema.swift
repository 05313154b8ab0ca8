import GRDB

extension Catalog {
    /// Named, ordered migrations. Never edit a shipped migration; add a new one.
    static var migrator: DatabaseMigrator {
        var migrator = DatabaseMigrator()
        migrator.registerMigration("v1-initial") { db in
            try db.create(table: "vm") { t in
                t.primaryKey("uuid", .text)
                t.column("name", .text).notNull()
                t.column("createdAt", .datetime).notNull()
                t.column("currentSnapshotID", .text)
                t.column("labBaselineID", .text)
            }
            try db.create(table: "snapshot") { t in
                t.primaryKey("id", .text)
                t.column("vmUUID", .text).notNull().references("vm", onDelete: .cascade)
                t.column("name", .text).notNull()
                t.column("description", .text).notNull().defaults(to: "")
                t.column("kind", .text).notNull()
                t.column("parentID", .text).references("snapshot", onDelete: .setNull)
                t.column("createdAt", .datetime).notNull()
                t.column("state", .text).notNull()
                t.column("hasMemory", .boolean).notNull()
                t.column("memoryPath", .text)
                t.column("memoryBytes", .integer).notNull().defaults(to: 0)
                t.column("diskBytes", .integer).notNull().defaults(to: 0)
                t.column("configXML", .text).notNull()
                t.column("nvramPath", .text)
                t.column("pinned", .boolean).notNull().defaults(to: false)
                t.column("expiresAt", .datetime)
                t.column("labels", .text).notNull().defaults(to: "[]")
                t.column("guestPauseMs", .integer)
                t.column("jobID", .integer)
                t.uniqueKey(["vmUUID", "name"])
            }
            try db.create(index: "snapshot_by_vm_created", on: "snapshot", columns: ["vmUUID", "createdAt"])
            try db.create(table: "layer") { t in
                t.primaryKey("id", .text)
                t.column("vmUUID", .text).notNull().references("vm", onDelete: .cascade)
                t.column("diskTarget", .text).notNull()
                t.column("path", .text).notNull().unique()
                t.column("format", .text).notNull()
                t.column("parentLayerID", .text).references("layer", onDelete: .restrict)
                t.column("role", .text).notNull()
                t.column("createdAt", .datetime).notNull()
            }
            try db.create(table: "snapshotDisk") { t in
                t.column("snapshotID", .text).notNull().references("snapshot", onDelete: .cascade)
                t.column("diskTarget", .text).notNull()
                t.column("layerID", .text).notNull().references("layer", onDelete: .restrict)
                t.primaryKey(["snapshotID", "diskTarget"])
            }
            try db.create(table: "job") { t in
                t.autoIncrementedPrimaryKey("id")
                t.column("kind", .text).notNull()
                t.column("vmUUID", .text)
                t.column("vmName", .text)
                t.column("snapshotID", .text)
                t.column("snapshotName", .text)
                t.column("state", .text).notNull()
                t.column("startedAt", .datetime).notNull()
                t.column("endedAt", .datetime)
                t.column("error", .text)
                t.column("progress", .double).notNull().defaults(to: 0)
                t.column("stage", .text)
                t.column("journal", .text)
                t.column("pid", .integer).notNull()
            }
            try db.create(index: "job_by_vm_state", on: "job", columns: ["vmUUID", "state"])
            try db.create(table: "policy") { t in
                t.primaryKey("scope", .text)
                t.column("json", .text).notNull()
                t.column("updatedAt", .datetime).notNull()
            }
        }
        registerScheduleMigrations(&migrator)
        migrator.registerMigration("v3-hooks") { db in
            try db.create(table: "hook") { t in
                t.autoIncrementedPrimaryKey("id")
                t.column("phase", .text).notNull()
                t.column("vm", .text)
                t.column("command", .text).notNull()
                t.column("timeoutSeconds", .double).notNull()
                t.column("createdAt", .datetime).notNull()
            }
            try db.alter(table: "job") { t in t.add(column: "note", .text) }
        }
        // `list` reads every snapshot of a VM but never its configXML (kilobytes per row): an index
        // holding exactly the listed columns lets SQLite answer from the index alone.
        migrator.registerMigration("v4-snapshot-list-index") { db in
            try db.execute(
                sql: """
                    CREATE INDEX snapshot_list ON snapshot(vmUUID, createdAt, id, name, description, kind, parentID, state,
                        hasMemory, memoryPath, memoryBytes, diskBytes, nvramPath, pinned, expiresAt, labels, guestPauseMs, jobID)
                    """)
        }
        registerVaultMigrations(&migrator)
        registerNotifyMigrations(&migrator)
        registerDrillMigrations(&migrator)
        return migrator
    }
}
