import Foundation
import KVMSnapCore
import SnapshotCatalog
import Testing

@testable import SnapshotEngine

/// The incremental read of a vault send: the layers above the base snapshot's top must hold
/// every cluster where the sent snapshot differs from the base, through snapshots, reverts,
/// deletes and the reclaim merges they cause (``VaultDiskSources``' doc comment argues why).
struct VaultDiskSourcesTests {
    /// A VM's layer tree with the clusters each layer wrote (cluster → value), changed the way
    /// the engine changes it: snapshot, write, revert, delete + reclaim (LayerTree's plan, with
    /// a commit copying the child's clusters into its parent).
    struct Model {
        var parents: [String: String?] = ["L0": nil]
        var writes: [String: [Int: Int]] = ["L0": [:]]
        var snapshots: [String: String] = [:]
        var active = "L0"
        var nextLayer = 1, nextValue = 1, nextSnapshot = 1

        mutating func newLayer(above parent: String) -> String {
            let id = "L\(nextLayer)"; nextLayer += 1
            parents[id] = parent; writes[id] = [:]
            return id
        }
        mutating func write(cluster: Int) { writes[active]?[cluster] = nextValue; nextValue += 1 }
        mutating func snapshot() {
            snapshots["s\(nextSnapshot)"] = active; nextSnapshot += 1
            active = newLayer(above: active)
        }
        mutating func revert(to name: String) {
            guard let top = snapshots[name] else { return }
            active = newLayer(above: top); reclaim()
        }
        mutating func delete(_ name: String) { snapshots[name] = nil; reclaim() }

        var tree: LayerTree { LayerTree(parents.map { LayerTree.Layer(id: $0.key, parentID: $0.value) }) }

        mutating func reclaim() {
            let refs = LayerTree.References(snapshotTops: Set(snapshots.values), active: [active])
            for step in tree.reclaimPlan(keeping: refs) {
                switch step {
                case .delete(let id):
                    parents[id] = nil; writes[id] = nil
                case .commit(let child, let parent):
                    writes[parent, default: [:]].merge(writes[child] ?? [:]) { _, childValue in childValue }
                    for (id, p) in parents where p == child { parents[id] = parent }
                    for (name, top) in snapshots where top == child { snapshots[name] = parent }
                    if active == child { active = parent }
                    parents[child] = nil; writes[child] = nil
                }
            }
        }

        func composed(_ top: String) -> [Int: Int] {
            var result: [Int: Int] = [:]
            for id in tree.chain(from: top).reversed() { result.merge(writes[id] ?? [:]) { _, upper in upper } }
            return result
        }

        var records: (layers: [LayerRecord], disks: [SnapshotDiskRecord]) {
            let layers = parents.map { id, parent in
                LayerRecord(
                    id: id, vmUUID: "vm", diskTarget: "vda", path: "/images/\(id).qcow2", format: "qcow2",
                    parentLayerID: parent, role: .overlay, createdAt: Date(timeIntervalSince1970: 0))
            }
            return (layers, snapshots.map { SnapshotDiskRecord(snapshotID: $0.key, diskTarget: "vda", layerID: $0.value) })
        }
    }

    /// Random histories; after every step, for every pair of snapshots (A base, S sent) that
    /// ``VaultDiskSources/select`` calls incremental, the layers it names cover every difference.
    @Test func layersAboveTheBaseCoverEveryChangedClusterThroughReclaims() throws {
        var seed: UInt64 = 0x9E37_79B9_7F4A_7C15
        func next(_ bound: Int) -> Int {
            seed = seed &* 6_364_136_223_846_793_005 &+ 1_442_695_040_888_963_407
            return Int((seed >> 33) % UInt64(bound))
        }
        var incrementalPairs = 0
        for _ in 0..<60 {
            var model = Model()
            for _ in 0..<40 {
                let names = model.snapshots.keys.sorted()
                switch next(10) {
                case 0...3: model.write(cluster: next(24))
                case 4...6: model.snapshot()
                case 7: if !names.isEmpty { model.revert(to: names[next(names.count)]) }
                default: if !names.isEmpty { model.delete(names[next(names.count)]) }
                }
                let (layers, disks) = model.records
                for base in model.snapshots.keys.sorted() {
                    for sent in model.snapshots.keys.sorted() where sent != base {
                        let selection = try #require(try VaultDiskSources.select(layers: layers, disks: disks, baseSnapshotID: base, snapshotID: sent).first)
                        #expect(selection.top.id == model.snapshots[sent])
                        guard let above = selection.layersAboveBase else { continue }
                        incrementalPairs += 1
                        let covered = Set(above.flatMap { model.writes[$0.id]?.keys.map { $0 } ?? [] })
                        let a = model.composed(model.snapshots[base] ?? ""), s = model.composed(model.snapshots[sent] ?? "")
                        let differing = Set(a.keys).union(s.keys).filter { a[$0] != s[$0] }
                        #expect(differing.isSubset(of: covered), "\(sent) against \(base): \(differing.subtracting(covered)) not covered")
                    }
                }
            }
        }
        #expect(incrementalPairs > 100)
    }

    @Test func noBaseABranchAndAMissingDiskAreFullReadsWithAReason() throws {
        var model = Model()
        model.write(cluster: 1); model.snapshot()  // s1
        model.write(cluster: 2); model.snapshot()  // s2
        model.revert(to: "s1"); model.write(cluster: 3); model.snapshot()  // s3, a branch off s1
        let (layers, disks) = model.records
        func select(_ base: String?, _ sent: String) throws -> VaultDiskSources.Selection? {
            try VaultDiskSources.select(layers: layers, disks: disks, baseSnapshotID: base, snapshotID: sent).first
        }
        #expect(try select(nil, "s2")?.reason == "no base snapshot")
        #expect(try select("s2", "s3")?.layersAboveBase == nil)
        #expect(try select("s1", "s3")?.layersAboveBase?.map(\.id) == [model.snapshots["s3"]].compactMap { $0 })
        #expect(try select("s1", "s2")?.layersAboveBase?.count == 1)
        #expect(try select("gone", "s2")?.reason?.contains("no disk vda") == true)
        #expect(throws: EngineError.self) { try select("s1", "nope") }
    }
}
