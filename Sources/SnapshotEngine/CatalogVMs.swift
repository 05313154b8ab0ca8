import SnapshotCatalog

/// The catalog's VM rows as the catalog alone knows them: every VM, the lab VMs, one VM by name
/// or UUID.
///
/// State: none of its own. Calls: the catalog only; it needs no libvirt connection, so the
/// commands that must work while libvirtd is down read VMs through it. The engine resolves a
/// VM's name through libvirt first (a VM renamed or redefined there) and falls back to this.
public struct CatalogVMs: CatalogService, Sendable {
    let catalog: Catalog

    public init(catalog: Catalog) { self.catalog = catalog }

    /// Every VM the catalog knows, by name.
    public func all() throws(EngineError) -> [VMRecord] {
        try db { () throws(CatalogError) in try catalog.read { try $0.allVMs() } }
    }

    /// The VMs marked as lab VMs, by name.
    public func labs() throws(EngineError) -> [VMRecord] {
        try db { () throws(CatalogError) in try catalog.read { try $0.allVMs().filter { $0.labBaselineID != nil } } }
    }

    /// The VM named `nameOrUUID`, else the one with that UUID; nil when the catalog has neither.
    public func find(_ nameOrUUID: String) throws(EngineError) -> VMRecord? {
        try db { () throws(CatalogError) in try catalog.read { db in try db.vm(named: nameOrUUID) ?? db.vm(uuid: nameOrUUID) } }
    }
}

extension SnapshotEngine {
    /// The catalog's VM rows (catalog only).
    var catalogVMRows: CatalogVMs { CatalogVMs(catalog: catalog) }

    /// Every VM the catalog knows, by name.
    public func catalogVMs() throws(EngineError) -> [VMRecord] { try catalogVMRows.all() }

    public func labVMs() throws(EngineError) -> [VMRecord] { try catalogVMRows.labs() }
}
