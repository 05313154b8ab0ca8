import Foundation
import SnapshotCatalog
import SnapshotEngine
import Testing

/// Two restores in the same second (issue 10, sibling of item 22: guard's default name).
@Suite(.serialized, .enabled(if: IntegrationEnvironment.available))
struct SafetySnapshotNameTests {
    struct FrozenClock: EngineClock {
        let instant: Date
        func now() -> Date { instant }
    }

    @Test func twoRestoresInTheSameSecondKeepTwoSafetySnapshots() throws {
        let f = try EngineFixture(tag: "samesec")
        defer { f.destroy() }
        try f.guest.waitForCounter(atLeast: 1)
        try f.snapshot("base")
        // The same engine objects, but every timestamp falls in one second.
        let engine = SnapshotEngine(
            connection: f.engine.connection, catalog: f.engine.catalog, store: f.engine.store,
            clock: FrozenClock(instant: Date()))
        var options = RestoreOptions()
        options.agentTimeout = .seconds(5)
        let first = try engine.restore(vm: f.guest.name, snapshot: "base", options: options)
        let second = try engine.restore(vm: f.guest.name, snapshot: "base", options: options)
        let names = [first.safetySnapshot, second.safetySnapshot].compactMap { $0 }
        #expect(names.count == 2)
        #expect(Set(names).count == 2, "\(names)")
        // Both safety snapshots are ready restore points.
        let states = try CLI(f).snapshotStates(f.guest.name)
        for name in names { #expect(states[name] == "ready", "\(states)") }
    }
}

/// `check` and the run state a restore left (issue 10 item 3): a crash is drift, an ordinary
/// shutdown by the user after a restore that succeeded is not.
@Suite(.serialized, .enabled(if: IntegrationEnvironment.available))
struct CheckRunStateTests {
    @Test func aUserShutdownAfterARestoreIsNotDrift() throws {
        let f = try EngineFixture(tag: "userstop")
        defer { f.destroy() }
        let cli = CLI(f), vm = f.guest.name
        try cli.createWhileCounting(vm, ["s1"], guest: f.guest)
        let restored = try cli.run(["restore", vm, "s1", "--confirm", vm, "--no-safety-snapshot"])
        #expect(restored.status == 0, "\(restored.stderr)")
        #expect(try cli.run(["check", vm]).status == 0)
        _ = try HostTools.virsh(["destroy", vm])
        let check = try cli.run(["check", vm, "--json"])
        #expect(check.status == 0, "\(check.stdout) \(check.stderr)")
    }
}
