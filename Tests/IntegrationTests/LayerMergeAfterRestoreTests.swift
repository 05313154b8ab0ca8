import Foundation
import SnapshotCatalog
import SnapshotEngine
import Testing

/// Found by the CLI fuzzer: `create s1..s3`, `restore s3` (with its safety snapshot), `delete s2`
/// left `check` reporting "layer X is backed by Y, catalog expects Z": the merge of s2's layer
/// re-pointed only the image on the VM's chain, not the safety snapshot's layer branching off it.
/// These tests replay that sequence and its siblings (restores that branch the layer tree, then
/// deletes, prunes and `--full` snapshots that merge or re-point layers), running and shut off,
/// with and without memory, and after every step require: `check --json` clean, every layer's
/// backing chain on disk (`qemu-img info -U --backing-chain`) the catalog's, every ready snapshot's
/// layer still holding its counter; at the end every ready snapshot restores its counter.
@Suite(.serialized, .enabled(if: IntegrationEnvironment.available))
struct LayerMergeAfterRestoreTests {
    @Test func diskOnlyRestoreThenDeleteOfTheMiddleSnapshotRunning() throws {
        try Scenario.run(tag: "merge-d") { s in
            for name in ["s1", "s2", "s3"] { try s.create(name, diskOnly: true) }
            try s.restore("s3")
            try s.delete("s2")
            // s1's layer (the VM's original image) is then unreferenced with one child, whose own
            // children are the VM's top and the safety snapshot's: a non-active live commit.
            try s.delete("s1")
        }
    }

    @Test func memoryRestoreThenDeleteOfTheMiddleSnapshotRunning() throws {
        try Scenario.run(tag: "merge-m") { s in
            for name in ["s1", "s2", "s3"] { try s.create(name) }
            try s.restore("s3")
            try s.delete("s2")
        }
    }

    /// The same with the VM shut off for the restore and the deletes (offline `qemu-img commit`
    /// path, the VM's own top among the re-pointed images); the restore leaves it off (`--no-start`).
    @Test func restoreThenDeleteOfTheMiddleSnapshotShutOff() throws {
        try Scenario.run(tag: "merge-off") { s in
            for name in ["s1", "s2", "s3"] { try s.create(name, diskOnly: true) }
            try s.shutOff()
            try s.restore("s3", start: false)
            try s.delete("s2")
            try s.delete("s1")
        }
    }

    /// Siblings: delete the snapshot a restore was taken from, delete the safety snapshot,
    /// restore an older snapshot (branching again), a `--full` snapshot, then prune.
    @Test func deletesOfRestoreTargetsAndSafetySnapshotsFullAndPrune() throws {
        try Scenario.run(tag: "merge-sib") { s in
            for name in ["a", "b", "c"] { try s.create(name) }
            let safety1 = try s.restore("b")
            try s.delete("b")
            try s.create("d", diskOnly: true)
            try s.delete(safety1)
            let safety2 = try s.restore("a")
            try s.create("e", full: true)
            try s.restore("c")
            try s.delete("a")
            try s.delete(safety2)
            try s.prune(keepLast: 2)
        }
    }

    /// One guest, its catalog, and what every step must leave behind.
    final class Scenario {
        let f: EngineFixture
        let cli: CLI
        var vm: String { f.guest.name }
        /// Snapshot name → the counter its frozen vda layer held when it was first seen.
        var counters: [String: Int] = [:]
        var steps: [String] = []

        init(_ f: EngineFixture) { self.f = f; cli = CLI(f) }

        static func run(tag: String, _ body: (Scenario) throws -> Void) throws {
            let f = try EngineFixture(tag: tag)
            defer { f.destroy() }
            let s = Scenario(f)
            try f.guest.waitForCounter(atLeast: 2)
            try body(s)
            try s.restoreEverySnapshot()
        }

        func step(_ args: [String]) throws {
            steps.append(args.joined(separator: " "))
            let result = try cli.run(args)
            try require(result.status == 0, "exit \(result.status): \(result.stderr)")
            try recordNewSnapshots()
            try verify()
        }

        func create(_ name: String, diskOnly: Bool = false, full: Bool = false) throws {
            try ensureRunning()
            try step(["create", vm, "--name", name] + (diskOnly ? ["--disk-only"] : []) + (full ? ["--full"] : []))
            try f.guest.waitForCounter(atLeast: counters[name]! + 2)
        }

        /// Restores `name` with its safety snapshot; returns the safety snapshot's name.
        @discardableResult
        func restore(_ name: String, start: Bool = true) throws -> String {
            let before = Set(counters.keys)
            try step(["restore", vm, name, "--confirm", vm] + (start ? [] : ["--no-start"]))
            let safety = Set(counters.keys).subtracting(before)
            try require(safety.count == 1, "restore made snapshots \(safety.sorted()), expected one safety snapshot")
            if start {
                try requireFirstCounter(of: name)
                try f.guest.waitForCounter(atLeast: counters[name]! + 3)
            } else {
                try require(!f.guest.isRunning, "restore --no-start left the VM running")
            }
            return safety.first!
        }

        func delete(_ name: String) throws {
            try step(["delete", vm, name, "--yes"])
            counters[name] = nil
        }

        /// Prunes with `--keep-last`; safety snapshots are kept until they expire.
        func prune(keepLast: Int) throws {
            let before = counters.count
            try step(["prune", vm, "--keep-last", "\(keepLast)"])
            let kept = try ready
            counters = counters.filter { kept.keys.contains($0.key) }
            try require(counters.count < before, "prune --keep-last \(keepLast) pruned nothing of \(kept.keys.sorted())")
        }

        /// Shuts the VM off behind kvmsnap's back (before any restore: `check` compares the run
        /// state with the one the last restore left).
        func shutOff() throws {
            steps.append("virsh destroy")
            _ = try HostTools.virsh(["destroy", vm])
            try verify()
        }

        func ensureRunning() throws {
            guard !f.guest.isRunning else { return }
            steps.append("virsh start")
            _ = try HostTools.virsh(["start", vm])
            _ = try f.guest.waitForFirstCounter()
        }

        /// Ready snapshots per the catalog: name → id.
        var ready: [String: String] {
            get throws {
                let uuid = try f.engine.catalogVM(vm).uuid
                let records = try f.engine.catalog.read { try $0.snapshots(vmUUID: uuid) }
                return Dictionary(uniqueKeysWithValues: records.filter { $0.state == .ready }.map { ($0.name, $0.id) })
            }
        }

        func recordNewSnapshots() throws {
            for (name, id) in try ready where counters[name] == nil {
                counters[name] = try require(try TestGuest.diskCounter(f.frozenLayerPath(id, disk: "vda")), "'\(name)' has no counter")
            }
        }

        /// After a restore of `name` the guest's first counter continues from the snapshot's.
        func requireFirstCounter(of name: String) throws {
            let c = counters[name]!, first = try f.guest.waitForFirstCounter()
            try require(first >= c && first <= c + 2, "'\(name)' was taken at counter \(c), after its restore the guest first printed \(first)")
        }

        func verify() throws {
            let check = try cli.run(["check", vm, "--json"])
            let reports = try require(check.json as? [[String: Any]], "check --json printed no JSON: exit \(check.status) \(check.stderr)")
            let problems = reports.flatMap { $0["problems"] as? [String] ?? ["(unreadable report)"] }
            try require(check.status == 0 && problems.isEmpty, "check: exit \(check.status): \(problems.joined(separator: " | "))")

            // Every layer's backing chain on disk is the catalog's.
            let uuid = try f.engine.catalogVM(vm).uuid
            let layers = try f.engine.catalog.read { try $0.layers(vmUUID: uuid) }
            let byID = Dictionary(uniqueKeysWithValues: layers.map { ($0.id, $0) })
            for layer in layers {
                var expected: [String] = [], next: LayerRecord? = layer
                while let l = next { expected.append(l.path); next = l.parentLayerID.flatMap { byID[$0] } }
                let onDisk = try Self.backingChain(layer.path)
                try require(onDisk == expected, "layer \(layer.path): chain on disk \(onDisk), catalog \(expected)")
            }
            // The VM's current vda is a catalog layer.
            let source = try f.guest.currentSource("vda")
            try require(layers.contains { $0.path == source }, "the VM runs on \(source), which the catalog does not know")

            // Every ready snapshot still holds its counter.
            for (name, id) in try ready {
                let now = try TestGuest.diskCounter(f.frozenLayerPath(id, disk: "vda"))
                try require(now == counters[name], "'\(name)' now holds counter \(String(describing: now)), it was taken at \(counters[name]!)")
            }
        }

        /// Restores every ready snapshot without a safety snapshot; each continues from its counter.
        func restoreEverySnapshot() throws {
            let all = try ready
            for name in all.keys.sorted() {
                steps.append("restore \(name) --no-safety-snapshot")
                let result = try cli.run(["restore", vm, name, "--confirm", vm, "--no-safety-snapshot"])
                try require(result.status == 0, "exit \(result.status): \(result.stderr)")
                try requireFirstCounter(of: name)
                try verify()
            }
            try require(try ready == all, "restoring every snapshot changed the snapshot set")
        }

        /// File names of `qemu-img info -U --backing-chain`, top first.
        static func backingChain(_ path: String) throws -> [String] {
            let json = try TestGuest.run("qemu-img", ["info", "-U", "--backing-chain", "--output=json", path])
            guard let images = try JSONSerialization.jsonObject(with: Data(json.utf8)) as? [[String: Any]] else {
                throw TestGuestError("qemu-img info --backing-chain \(path): not a JSON array")
            }
            return images.map { $0["filename"] as? String ?? "?" }
        }

        func require<T>(_ value: T?, _ message: @autoclosure () -> String) throws -> T {
            guard let value else { throw failure(message()) }
            return value
        }

        func require(_ condition: Bool, _ message: @autoclosure () -> String) throws {
            if !condition { throw failure(message()) }
        }

        func failure(_ message: String) -> TestGuestError {
            TestGuestError("\(message)\n  after: \(steps.joined(separator: " → "))")
        }
    }
}
