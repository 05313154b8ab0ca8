import Testing

@testable import KVMSnapCore

@Suite struct RestorePlanTests {
    @Test func defaultPlanRunsEveryStageInOrder() {
        let plan = RestorePlan(safetySnapshot: true, target: .running, snapshotHasMemory: true)
        #expect(plan.stages == [.validate, .safetySnapshot, .stop, .revert, .start, .verify])
        #expect(plan.restoresMemory)
    }

    @Test func noStartSkipsStartAndMemory() {
        let plan = RestorePlan(safetySnapshot: false, target: .off, snapshotHasMemory: true)
        #expect(plan.stages == [.validate, .stop, .revert, .verify])
        #expect(!plan.restoresMemory)
    }

    @Test func diskOnlySnapshotBootsWithoutMemory() {
        let plan = RestorePlan(safetySnapshot: true, target: .paused, snapshotHasMemory: false)
        #expect(plan.stages.contains(.start))
        #expect(!plan.restoresMemory)
    }

    @Test(arguments: [
        ("web01", "web01\n", true), ("web01", "Web01", false), ("web01", "web01 ", false),
        ("web01", "", false), ("web01", "web0", false), ("a b", "a b\r\n", true),
    ])
    func confirmationIsExactAndCaseSensitive(vm: String, typed: String, expected: Bool) {
        #expect(RestorePlan.confirmationMatches(typed: typed, vmName: vm) == expected)
    }
}
