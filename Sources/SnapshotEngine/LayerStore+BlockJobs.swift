import Foundation
import Libvirt
import SnapshotCatalog

/// A block job libvirt runs on a disk, with where it writes: kvmsnap tells its own jobs from
/// anyone else's (a user's `virsh blockcopy`, a copy a killed `create --full` left) by that
/// destination, and never pivots or waits out a job it cannot prove is its own.
struct DiskBlockJob: Sendable, Equatable {
    var type: BlockJobType
    /// The copy target or the active commit's base (the live XML's `<mirror>`); nil for other jobs.
    var destination: String?

    var description: String {
        let kind =
            switch type {
            case .copy: "block copy"
            case .commit: "block commit"
            case .activeCommit: "active block commit"
            case .pull: "block pull"
            case .backup: "backup"
            case .unknown: "block job"
            }
        return destination.map { "a \(kind) to \($0)" } ?? "a \(kind)"
    }
}

extension LayerStore {
    /// The block job on `disk` of a running domain, or nil when there is none (or the domain is off).
    func blockJob(on domain: Domain, disk: String) throws(EngineError) -> DiskBlockJob? {
        guard try isActiveChecked(domain) else { return nil }
        guard let info = try lv("cannot read the block job of \(disk)", { () throws(LibvirtError) in try domain.blockJobInfo(disk: disk) }) else {
            return nil
        }
        let xml = try lv("cannot read VM XML") { () throws(LibvirtError) in try domain.xml(flags: []) }
        let mirror = try DomainDefinition(xml: xml).disks.first { $0.target == disk }?.mirror
        return DiskBlockJob(type: info.type, destination: mirror?.path)
    }

    /// Refuses, before anything changes, when a disk of the running VM has a block job kvmsnap did
    /// not start: merging layers would have to wait for it or, worse, complete it as its own.
    /// Only an active commit into one of the VM's catalogued layers (a merge a crashed kvmsnap
    /// left) is let through; ``commit(child:into:domain:tree:layers:)`` checks it is the right one.
    func refuseForeignBlockJobs(domain: Domain?, vm: VMRecord) throws(EngineError) {
        guard let domain, try isActiveChecked(domain) else { return }
        let xml = try lv("cannot read VM XML") { () throws(LibvirtError) in try domain.xml(flags: []) }
        let known = Set(try db { () throws(CatalogError) in try catalog.read { try $0.layers(vmUUID: vm.uuid) } }.map(\.path))
        for disk in try DomainDefinition(xml: xml).disks where disk.skipReason == nil {
            guard let job = try blockJob(on: domain, disk: disk.target) else { continue }
            if job.type == .activeCommit, let destination = job.destination, known.contains(destination) { continue }
            throw Self.foreignBlockJob(job, disk: disk.target, vmName: vm.name)
        }
    }

    static func foreignBlockJob(_ job: DiskBlockJob, disk: String, vmName: String) -> EngineError {
        EngineError(
            .conflict,
            "disk \(disk) of \(vmName) has a block job kvmsnap did not start (\(job.description)); nothing was changed: let it finish or cancel it ('virsh "
                + "blockjob \(vmName) \(disk) --abort'), then retry"
        )
    }
}
