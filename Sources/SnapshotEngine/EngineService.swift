import Libvirt
import SnapshotCatalog

/// What the engine's services share: the libvirt connection, the catalog, the configuration of
/// the operation, and the helpers that turn their failures into ``EngineError``.
protocol EngineService {
    var connection: Connection { get }
    var catalog: Catalog { get }
    var configuration: EngineConfiguration { get }
}

extension EngineService {
    /// Converts a libvirt failure into the engine's error, naming what was being done.
    func lv<T>(_ what: String, _ body: () throws(LibvirtError) -> T) throws(EngineError) -> T {
        do { return try body() } catch { throw EngineError(.libvirt, "\(what): \(error.message)") }
    }

    func db<T>(_ body: () throws(CatalogError) -> T) throws(EngineError) -> T {
        try withCatalog(body)
    }

    /// A test's fault point (``FaultPoint``): throws when the injector says so.
    func inject(_ point: FaultPoint) throws(EngineError) {
        try configuration.faultInjector?(point.rawValue)
    }
}
