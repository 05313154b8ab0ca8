import ArgumentParser
import Foundation
import KVMSnapCore
import SnapshotEngine

struct LabCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "lab", abstract: "Declare disposable lab VMs and their baselines.",
        subcommands: [Mark.self, Unmark.self, List.self])

    struct Mark: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Mark a VM as a lab VM that `reset` puts back to BASELINE.")
        @OptionGroup var global: GlobalOptions
        @Argument(help: "VM name or UUID.") var vm: String
        @Option(help: "Snapshot the VM is reset to.") var baseline: String
        func run() throws {
            try Context(global).engine(.existing).markLab(vm: vm, baseline: baseline)
            if !global.json { Output.line("\(vm) is a lab VM with baseline '\(baseline)'") }
        }
    }

    struct Unmark: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Make a lab VM an ordinary VM again.")
        @OptionGroup var global: GlobalOptions
        @Argument(help: "VM name or UUID.") var vm: String
        func run() throws {
            try Context(global).engine(.existing).unmarkLab(vm: vm)
            if !global.json { Output.line("\(vm) is no longer a lab VM") }
        }
    }

    struct List: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "List lab VMs.")
        @OptionGroup var global: GlobalOptions
        func run() throws {
            let labs = try Context(global).catalogReader().labVMs()  // no libvirt needed
            if global.json { Output.json(labs.map { ["vm": $0.name, "uuid": $0.uuid] }); return }
            Output.table(["VM", "UUID"], labs.map { [$0.name, $0.uuid] })
        }
    }
}
