import ArgumentParser
import Foundation
import SnapshotCatalog
import SnapshotEngine

struct JobsCommand: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "jobs", abstract: "List kvmsnap's jobs, newest first.")
    @OptionGroup var global: GlobalOptions
    @Argument(help: "Only this VM (name or UUID).") var vm: String?
    @Flag(help: "Only failed jobs.") var failed = false

    func run() throws {
        let jobs = try Context(global).catalogReader().jobs(vm: vm, failedOnly: failed)   // no libvirt needed
        if global.json { Output.json(jobs.map(JobJSON.init)); return }
        Output.table(["ID", "KIND", "VM", "SNAPSHOT", "STATE", "STARTED", "DURATION", "ERROR"], jobs.map { job in
            [String(job.id ?? 0), job.kind, job.vmName ?? "-", job.snapshotName ?? "-", job.state.rawValue,
             Output.localTime(job.startedAt), JobJSON.duration(job).map { String(format: "%.1fs", $0) } ?? "-",
             job.error ?? job.note ?? ""]
        })
    }
}

struct JobJSON: Encodable {
    var id: Int64?
    var kind: String
    var vm: String?
    var vmUUID: String?
    var snapshot: String?
    var state: String
    var stage: String?
    var startedAt: Date
    var endedAt: Date?
    var durationSeconds: Double?
    var error: String?
    var note: String?
    /// The job's journal (JSON text): for guard, the command, its status and the rollback.
    var details: String?

    init(_ job: JobRecord) {
        id = job.id; kind = job.kind; vm = job.vmName; vmUUID = job.vmUUID; snapshot = job.snapshotName
        state = job.state.rawValue; stage = job.stage; startedAt = job.startedAt; endedAt = job.endedAt
        durationSeconds = Self.duration(job); error = job.error; note = job.note; details = job.journal
    }

    static func duration(_ job: JobRecord) -> Double? { job.endedAt.map { $0.timeIntervalSince(job.startedAt) } }
}
