import ArgumentParser
import Foundation
import SnapshotEngine

/// Drops a VM that was undefined outside kvmsnap from the catalog (issue 10, item 23).
struct ForgetCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "forget",
        abstract: "Drop a VM libvirt no longer has from the catalog (its snapshots, layers and policy).",
        discussion: """
            For a VM undefined outside kvmsnap (e.g. with 'virsh undefine'), whose records keep its \
            image paths taken. Its jobs stay in the journal. Store files are kept unless \
            --delete-files, which deletes only the files kvmsnap's store holds for that VM, never \
            the VM's own images. Refused (exit 3) while libvirt still has the VM.
            """)
    @OptionGroup var global: GlobalOptions
    @Argument(help: "VM name or UUID (the UUID when a new VM has the same name).") var vm: String
    @Flag(help: "Also delete the VM's files in kvmsnap's store (overlays, copies, memory images).") var deleteFiles = false

    func run() throws {
        let result = try Context(global).engine(.existing).forget(vm: vm, deleteFiles: deleteFiles)
        if global.json { Output.json(result); return }
        var line =
            "forgot VM \(result.vm) (\(result.uuid)): \(result.snapshots) snapshot\(result.snapshots == 1 ? "" : "s"), \(result.layers) "
            + "layer\(result.layers == 1 ? "" : "s")"
        if deleteFiles { line += "; deleted \(result.deletedFiles.count) store file\(result.deletedFiles.count == 1 ? "" : "s")" }
        if let kept = result.keptDirectory { line += "; \(deleteFiles ? "files the catalog did not name stay" : "its store files stay") in \(kept)" }
        Output.line(line)
    }
}
