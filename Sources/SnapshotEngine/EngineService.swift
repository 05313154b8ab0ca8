import Libvirt
import SnapshotCatalog

/// What a service that reads and writes only the catalog needs: no libvirt connection, so the
/// commands that must work while libvirtd is down (``Policies``, the job list, the hook list)
/// use these services directly.
protocol CatalogService {
    var catalog: Catalog { get }
}

extension CatalogService {
    func db<T>(_ body: () throws(CatalogError) -> T) throws(EngineError) -> T {
        try withCatalog(body)
    }

    /// The catalog's record of `vm` now (`vm` itself when the catalog has none).
    func currentVM(_ vm: VMRecord) throws(EngineError) -> VMRecord {
        try db { () throws(CatalogError) in try catalog.read { try $0.vm(uuid: vm.uuid) } } ?? vm
    }
}

/// What the engine's services share: the libvirt connection, the catalog, the configuration of
/// the operation, and the helpers that turn their failures into ``EngineError``.
protocol EngineService: CatalogService {
    var connection: Connection { get }
    var configuration: EngineConfiguration { get }
}

extension EngineService {
    /// Converts a libvirt failure into the engine's error, naming what was being done.
    func lv<T>(_ what: String, _ body: () throws(LibvirtError) -> T) throws(EngineError) -> T {
        do { return try body() } catch { throw EngineError(.libvirt, "\(what): \(error.message)") }
    }

    /// A test's fault point (``FaultPoint``): throws when the injector says so.
    func inject(_ point: FaultPoint) throws(EngineError) {
        try configuration.faultInjector?(point.rawValue)
    }
}
