import Foundation
import GRDB

/// Typed access to the catalog inside one transaction. Valid only during the `read`/`write` call.
public struct CatalogAccess {
    let db: Database

    // MARK: VMs
    public func vm(uuid: String) throws -> VMRecord? { try VMRecord.fetchOne(db, key: uuid) }
    public func vm(named name: String) throws -> VMRecord? {
        try VMRecord.filter(Column("name") == name).fetchOne(db)
    }
    public func allVMs() throws -> [VMRecord] { try VMRecord.order(Column("name")).fetchAll(db) }
    public func save(_ vm: VMRecord) throws { try vm.save(db) }

    // MARK: Snapshots
    public func snapshot(id: String) throws -> SnapshotRecord? { try SnapshotRecord.fetchOne(db, key: id) }
    public func snapshotName(id: String, vmUUID: String) throws -> String? {
        try String.fetchOne(db.cachedStatement(sql: "SELECT name FROM snapshot WHERE id = ? AND vmUUID = ?"), arguments: [id, vmUUID])
    }
    public func snapshot(vmUUID: String, name: String) throws -> SnapshotRecord? {
        try SnapshotRecord.filter(Column("vmUUID") == vmUUID && Column("name") == name).fetchOne(db)
    }
    /// All snapshots of a VM, oldest first.
    public func snapshots(vmUUID: String) throws -> [SnapshotRecord] {
        try SnapshotRecord.filter(Column("vmUUID") == vmUUID).order(Column("createdAt"), Column("id")).fetchAll(db)
    }
    /// All snapshots of a VM, oldest first, for listings, one row at a time (a listing of
    /// 100,000 snapshots streams to stdout): every column except `configXML`, which is left
    /// EMPTY (it is the bulk of a row: reading it made listing 100,000 snapshots I/O-bound).
    /// Columns are read by position. Never write these records back.
    public func forEachSnapshotSummary(vmUUID: String, _ body: (SnapshotRecord) throws -> Void) throws {
        let rows = try Row.fetchCursor(
            db,
            sql: """
                SELECT id, name, description, kind, parentID, createdAt, state, hasMemory, memoryPath, memoryBytes,
                       diskBytes, nvramPath, pinned, expiresAt, labels, guestPauseMs, jobID
                FROM snapshot WHERE vmUUID = ? ORDER BY createdAt, id
                """, arguments: [vmUUID])
        while let row = try rows.next() {
            let id: String = try row.decode(atIndex: 0)
            let kindText: String = try row.decode(atIndex: 3), stateText: String = try row.decode(atIndex: 6)
            guard let kind = SnapshotKind(rawValue: kindText), let state = SnapshotState(rawValue: stateText) else {
                throw DatabaseError(message: "snapshot \(id): unknown kind '\(kindText)' or state '\(stateText)'")
            }
            let labelsText: String = try row.decode(atIndex: 14)
            let name: String = try row.decode(atIndex: 1)
            let expiry: DatabaseValue = row[13]
            try body(
                SnapshotRecord(
                    id: id, vmUUID: vmUUID, name: name, description: try row.decode(atIndex: 2), kind: kind,
                    parentID: try row.decode(atIndex: 4), createdAt: try SnapshotRecord.date(row[5], column: "createdAt", id: id, name: name), state: state,
                    hasMemory: try row.decode(atIndex: 7), memoryPath: try row.decode(atIndex: 8), memoryBytes: try row.decode(atIndex: 9),
                    diskBytes: try row.decode(atIndex: 10), configXML: "", nvramPath: try row.decode(atIndex: 11),
                    pinned: try row.decode(atIndex: 12),
                    expiresAt: expiry.isNull ? nil : try SnapshotRecord.date(expiry, column: "expiresAt", id: id, name: name),
                    labels: try SnapshotRecord.decodeLabels(labelsText, id: id),
                    guestPauseMs: try row.decode(atIndex: 15), jobID: try row.decode(atIndex: 16)))
        }
    }
    /// Ids of a VM's snapshots in `state`, answered from the `snapshot_list` index alone.
    public func snapshotIDs(vmUUID: String, state: SnapshotState) throws -> [String] {
        try String.fetchAll(
            db.cachedStatement(sql: "SELECT id FROM snapshot WHERE vmUUID = ? AND state = ?"),
            arguments: [vmUUID, state.rawValue])
    }
    public func snapshots(states: [SnapshotState]) throws -> [SnapshotRecord] {
        try SnapshotRecord.filter(states.map(\.rawValue).contains(Column("state"))).fetchAll(db)
    }
    public func children(of snapshotID: String) throws -> [SnapshotRecord] {
        try SnapshotRecord.filter(Column("parentID") == snapshotID).fetchAll(db)
    }
    /// Sets a snapshot's expiry without reading its row (which may hold an unreadable one).
    public func setExpiry(vmUUID: String, name: String, expiresAt: Date?) throws {
        try db.execute(sql: "UPDATE snapshot SET expiresAt = ? WHERE vmUUID = ? AND name = ?", arguments: [expiresAt, vmUUID, name])
    }
    public func insert(_ snapshot: SnapshotRecord) throws { try snapshot.insert(db) }
    public func update(_ snapshot: SnapshotRecord) throws { try snapshot.update(db) }
    public func deleteSnapshot(id: String) throws { _ = try SnapshotRecord.deleteOne(db, key: id) }

    // MARK: Layers
    public func layer(id: String) throws -> LayerRecord? { try LayerRecord.fetchOne(db, key: id) }
    public func layer(path: String) throws -> LayerRecord? { try LayerRecord.filter(Column("path") == path).fetchOne(db) }
    public func layers(vmUUID: String) throws -> [LayerRecord] {
        try LayerRecord.filter(Column("vmUUID") == vmUUID).order(Column("createdAt"), Column("id")).fetchAll(db)
    }
    public func insert(_ layer: LayerRecord) throws { try layer.insert(db) }
    public func update(_ layer: LayerRecord) throws { try layer.update(db) }
    public func deleteLayer(id: String) throws { _ = try LayerRecord.deleteOne(db, key: id) }

    public func disks(ofSnapshot id: String) throws -> [SnapshotDiskRecord] {
        try SnapshotDiskRecord.filter(Column("snapshotID") == id).order(Column("diskTarget")).fetchAll(db)
    }
    public func disks(vmUUID: String) throws -> [SnapshotDiskRecord] {
        try SnapshotDiskRecord.fetchAll(
            db,
            sql: """
                SELECT snapshotDisk.* FROM snapshotDisk JOIN snapshot ON snapshot.id = snapshotDisk.snapshotID
                WHERE snapshot.vmUUID = ?
                """, arguments: [vmUUID])
    }
    public func save(_ disk: SnapshotDiskRecord) throws { try disk.save(db) }

    // MARK: Jobs
    public func insert(_ job: inout JobRecord) throws { try job.insert(db) }
    public func update(_ job: JobRecord) throws { try job.update(db) }
    public func job(id: Int64) throws -> JobRecord? { try JobRecord.fetchOne(db, key: id) }
    public func jobs(vmUUID: String? = nil, states: [JobState]? = nil, kinds: [String]? = nil, limit: Int? = nil) throws -> [JobRecord] {
        var request = JobRecord.all()
        if let vmUUID { request = request.filter(Column("vmUUID") == vmUUID) }
        if let kinds { request = request.filter(kinds.contains(Column("kind"))) }
        if let states { request = request.filter(states.map(\.rawValue).contains(Column("state"))) }
        request = request.order(Column("id").desc)
        if let limit { request = request.limit(limit) }
        return try request.fetchAll(db)
    }

    // MARK: Hooks
    public func hooks() throws -> [HookRecord] { try HookRecord.order(Column("id")).fetchAll(db) }
    public func insert(_ hook: inout HookRecord) throws { try hook.insert(db) }
    public func deleteHook(id: Int64) throws -> Bool { try HookRecord.deleteOne(db, key: id) }

    // MARK: Forgetting a VM

    /// Drops everything recorded for a VM except its jobs (the journal is its history):
    /// snapshots and their disk rows, layers, schedule state, the policy `policyScope` and the
    /// VM row. Returns how many snapshots and layers were dropped.
    public func forgetVM(uuid: String, policyScope: String) throws -> (snapshots: Int, layers: Int) {
        let snapshots = try SnapshotRecord.filter(Column("vmUUID") == uuid).deleteAll(db)
        // Layers reference their parents (ON DELETE RESTRICT): unlink them first, then drop all.
        try db.execute(sql: "UPDATE layer SET parentLayerID = NULL WHERE vmUUID = ?", arguments: [uuid])
        let layers = try LayerRecord.filter(Column("vmUUID") == uuid).deleteAll(db)
        _ = try PolicyRecord.deleteOne(db, key: policyScope)
        _ = try VMRecord.deleteOne(db, key: uuid)
        return (snapshots, layers)
    }

    // MARK: Policies
    public func policy(scope: String) throws -> PolicyRecord? { try PolicyRecord.fetchOne(db, key: scope) }
    public func save(_ policy: PolicyRecord) throws { try policy.save(db) }
    public func deletePolicy(scope: String) throws -> Bool { try PolicyRecord.deleteOne(db, key: scope) }
}
