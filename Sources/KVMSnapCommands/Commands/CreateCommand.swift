import ArgumentParser
import Foundation
import KVMSnapCore
import SnapshotEngine

struct CreateCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "create",
        abstract: "Snapshot a VM: memory (when running), every writable disk, and its configuration.",
        discussion: "The first snapshot of a VM is its full root; later ones are incremental unless --full.")

    @OptionGroup var global: GlobalOptions
    @Argument(help: "VM name or UUID.") var vm: String
    @Option(name: .long, help: "Snapshot name (at most 64 characters, no '/').") var name: String
    @Option(help: "Free text shown by list and show.") var description: String = ""
    @Flag(help: "Write a standalone copy of every disk; later incrementals chain from it.") var full = false
    @Flag(name: .customLong("disk-only"), help: "Skip memory even when the VM runs (crash-consistent disks).") var diskOnly = false
    @Flag(help: "Freeze guest filesystems through the QEMU guest agent during the capture (disks only); fails when no agent answers.") var quiesce = false
    @Flag(help: "Never prune this snapshot until unpinned.") var pin = false
    @Option(help: ArgumentHelp("Expire after a duration (14d, 36h, 2w) or on a date (YYYY-MM-DD).", valueName: "WHEN")) var expires: String?
    @Option(
        name: .customLong("full-every"), help: "Take an automatic full after this many incrementals in a row (0 = never; default: the VM's policy, else 14).")
    var fullEvery: Int?

    @Option(
        name: .customLong("max-pause"),
        help: ArgumentHelp(
            "Longest guest pause at the end of a live memory capture, in ms (QEMU's downtime limit during the capture; 0 = leave the hypervisor's setting).",
            valueName: "MS")) var maxPause: UInt64 = 50

    func run() throws {
        try SnapshotEngine.validateName(name)
        let expiresAt = try expires.map { spec throws(SpecError) in try ExpirySpec.parse(spec, now: Date()) }
        let context = try Context(global)
        let progress = Output.progressBar(json: global.json)
        let engine = try context.engine(progress: progress, vm: vm)
        var options = CreateOptions(name: name)
        options.description = description
        options.full = full
        options.diskOnly = diskOnly
        options.quiesce = quiesce ? .required : .off
        options.pin = pin
        options.maxPauseMs = maxPause == 0 ? nil : maxPause
        options.expiresAt = expiresAt
        options.fullEvery = try fullEvery ?? engine.effectivePolicy(vm: vm)?.policy.fullEvery ?? options.fullEvery
        let result = try engine.createSnapshot(vm: vm, options: options)
        Output.endProgress(progress)
        for notice in result.notices { Output.notice(notice) }
        let info = try engine.snapshot(vm: vm, name: name)
        if global.json { Output.json(SnapshotJSON(info, withLayers: true)); return }
        let r = info.record
        var line = "created \(r.kind.rawValue) snapshot '\(r.name)' of \(vm)"
        line += r.hasMemory ? " with memory (\(Output.bytes(r.memoryBytes)))" : " (disks only)"
        line += ", disks \(Output.bytes(r.diskBytes))"
        if let pause = r.guestPauseMs { line += ", guest paused \(pause) ms" }
        Output.line(line)
    }
}
