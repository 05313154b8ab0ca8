import Foundation
import KVMSnapCore
import Libvirt
import SnapshotCatalog

extension SnapshotEngine {
    var drills: Drills { Drills(restorer: restorer) }

    /// Runs a restore drill of `vm` (``Drills``): the VM's lock is held throughout, so
    /// snapshots of it wait; the VM itself keeps running untouched. Returns the recorded report;
    /// a failed check is `passed == false` in it, not an error.
    public func drill(vm nameOrUUID: String, options: DrillOptions) throws(EngineError) -> DrillRecord {
        if let pattern = options.consolePattern, (try? NSRegularExpression(pattern: pattern)) == nil {
            throw EngineError(.invalidInput, "--check-console: not a valid regular expression: \(pattern)")
        }
        if let port = options.port, !(1...65_535).contains(port) { throw EngineError(.invalidInput, "--check-port must be 1-65535") }
        let (vm, domain) = try vmForCatalogWork(nameOrUUID)
        let lock = try lockVM(vm, domain: domain)
        defer { withExtendedLifetime(lock) {} }
        return try drills.run(vm: vm, options: options)
    }

    /// Drill reports, newest first, of one VM (name or UUID, also a VM that no longer exists) or all.
    public func drillReports(vm nameOrUUID: String? = nil, limit: Int = 100) throws(EngineError) -> [DrillRecord] {
        let all = try db { () throws(CatalogError) in try catalog.read { try $0.drills(limit: nameOrUUID == nil ? limit : 100_000) } }
        guard let nameOrUUID else { return all }
        return Array(all.filter { $0.vmName == nameOrUUID || $0.vmUUID.lowercased() == nameOrUUID.lowercased() }.prefix(limit))
    }

    /// Drill reports recorded after report `id`, oldest first (``CatalogAccess/drills(after:)``):
    /// for the alert sender's drill-passed / drill-failed events.
    public func drillReports(after id: Int64?) throws(EngineError) -> [DrillRecord] {
        try db { () throws(CatalogError) in try catalog.read { try $0.drills(after: id) } }
    }
}
