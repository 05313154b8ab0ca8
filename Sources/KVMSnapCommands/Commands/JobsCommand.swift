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
        let jobs = try Context(global).catalogReader().jobs(vm: vm, failedOnly: failed)  // no libvirt needed
        if global.json { Output.json(jobs.map(JobJSON.init)); return }
        Output.table(
            ["ID", "KIND", "VM", "SNAPSHOT", "STATE", "STARTED", "DURATION", "ERROR"],
            jobs.map { job in
                [
                    String(job.id ?? 0), job.kind, job.vmName ?? "-", job.snapshotName ?? "-", job.state.rawValue,
                    Output.localTime(job.startedAt), JobJSON.duration(job).map { String(format: "%.1fs", $0) } ?? "-",
                    job.error ?? job.note ?? "",
                ]
            })
    }
}
