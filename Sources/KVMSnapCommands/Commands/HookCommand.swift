import ArgumentParser
import Foundation
import KVMSnapCore
import SnapshotCatalog
import SnapshotEngine

struct HookCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "hook", abstract: "Commands kvmsnap runs before/after snapshots and restores, and when a job fails.",
        subcommands: [Add.self, List.self, Remove.self])

    struct Add: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Add a hook (no shell; env KVMSNAP_VM, _SNAPSHOT, _KIND, _PHASE, _JOB, and _ERROR for on-failure).",
            discussion:
                "A failing pre- hook aborts the operation with nothing changed; a failing post- hook is reported and the operation stands. A hook killed by "
                + "its timeout counts as failed."
        )
        @OptionGroup var global: GlobalOptions
        @Option(
            help: ArgumentHelp("pre-snapshot, post-snapshot, pre-restore, post-restore or on-failure.", valueName: "PHASE"),
            transform: HookPhase.parser("--phase")) var phase: HookPhase
        @Option(help: "Only for this VM (name or UUID); default every VM.") var vm: String?
        @Option(help: ArgumentHelp("Kill the hook after this long (30s, 10min, 2h; default 10min).", valueName: "DURATION")) var timeout: String?
        @Argument(parsing: .postTerminator, help: ArgumentHelp("The command and its arguments, after --.", valueName: "CMD")) var command: [String] = []

        func validate() throws {
            if command.isEmpty { throw ValidationError("give the hook's command after --") }
            try GuardCommand.requireRunnable(command[0])
        }

        func run() throws {
            let duration = try timeout.map { text throws(SpecError) in try TimeoutSpec.duration(text) } ?? SnapshotEngine.defaultHookTimeout
            let hook = try Context(global).engine().addHook(phase: phase, vm: vm, command: command, timeout: duration)
            if global.json { Output.json(HookJSON(hook)); return }
            Output.line("added hook \(hook.id ?? 0): \(phase.rawValue)\(vm.map { " for \($0)" } ?? "") runs \(command.joined(separator: " "))")
        }
    }

    struct List: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "List hooks.")
        @OptionGroup var global: GlobalOptions
        func run() throws {
            let hooks = try Context(global).catalogReader().hooks()  // no libvirt needed
            if global.json { Output.json(hooks.map(HookJSON.init)); return }
            Output.table(
                ["ID", "PHASE", "VM", "TIMEOUT", "COMMAND"],
                hooks.map { hook in
                    [String(hook.id ?? 0), hook.phase, hook.vm ?? "(all)", SnapshotEngine.seconds(hook.timeoutSeconds), hook.command.joined(separator: " ")]
                })
        }
    }

    struct Remove: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Remove a hook.")
        @OptionGroup var global: GlobalOptions
        @Argument(help: "Hook id (see hook list).") var id: Int64
        func run() throws {
            try Context(global).engine(.existing).removeHook(id: id)
            if !global.json { Output.line("removed hook \(id)") }
        }
    }
}
