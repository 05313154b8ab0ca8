import PropertyBased
import Testing

@testable import KVMSnapCore

/// A brute-force model of disk content: each layer writes a set of "clusters" (cluster → value);
/// the composed content of a layer is its chain read top-down. Reclaim steps must never change
/// the composed content of any referenced layer.
private struct ContentModel {
    var tree: LayerTree
    var writes: [String: [Int: String]]

    func composed(_ id: String) -> [Int: String] {
        var result: [Int: String] = [:]
        for layer in tree.chain(from: id).reversed() {
            for (cluster, value) in writes[layer] ?? [:] { result[cluster] = value }
        }
        return result
    }

    mutating func apply(_ step: LayerTree.ReclaimStep, _ refs: inout LayerTree.References) {
        if case .commit(let child, let parent) = step {
            for (cluster, value) in writes[child] ?? [:] { writes[parent, default: [:]][cluster] = value }
            writes[child] = nil
        }
        if case .delete(let id) = step { writes[id] = nil }
        tree.apply(step, references: &refs)
    }
}

@Suite struct LayerTreeTests {
    // base ← o1 ← o2 ← active ; snapshots: s1=base, s2=o1, s3=o2
    let linear = LayerTree([
        .init(id: "base", parentID: nil), .init(id: "o1", parentID: "base"),
        .init(id: "o2", parentID: "o1"), .init(id: "act", parentID: "o2"),
    ])

    @Test func nothingIsReclaimedWhileEverythingIsReferenced() {
        let refs = LayerTree.References(snapshotTops: ["base", "o1", "o2"], active: ["act"])
        #expect(linear.reclaimPlan(keeping: refs).isEmpty)
    }

    @Test func deletingMiddleSnapshotCommitsItsChildIntoIt() {
        // s2 (top o1) deleted: o1 is unreferenced with one child o2 → commit o2 into o1.
        let refs = LayerTree.References(snapshotTops: ["base", "o2"], active: ["act"])
        #expect(linear.reclaimPlan(keeping: refs) == [.commit(child: "o2", into: "o1")])
    }

    @Test func deletingRootCommitsIntoTheBase() {
        let refs = LayerTree.References(snapshotTops: ["o1", "o2"], active: ["act"])
        #expect(linear.reclaimPlan(keeping: refs) == [.commit(child: "o1", into: "base")])
    }

    @Test func abandonedBranchIsDeletedLeafFirst() {
        // After a revert to s1 the VM runs on n (child of base); the old branch o1 ← o2 ← act
        // is only needed by s2/s3. Deleting s2 and s3 frees o1, o2 and act.
        var layers = Array(linear.layers.values)
        layers.append(.init(id: "n", parentID: "base"))
        let tree = LayerTree(layers)
        let refs = LayerTree.References(snapshotTops: ["base"], active: ["n"])
        #expect(tree.reclaimPlan(keeping: refs) == [.delete(layer: "act"), .delete(layer: "o2"), .delete(layer: "o1")])
    }

    @Test func sharedLayerWithTwoChildrenStays() {
        let tree = LayerTree([
            .init(id: "base", parentID: nil), .init(id: "a", parentID: "base"), .init(id: "b", parentID: "base"),
        ])
        let refs = LayerTree.References(snapshotTops: ["a"], active: ["b"])
        #expect(tree.reclaimPlan(keeping: refs).isEmpty)
    }

    @Test func chainWalksToTheRootAndStopsOnCycles() {
        #expect(linear.chain(from: "act") == ["act", "o2", "o1", "base"])
        let cyclic = LayerTree([.init(id: "a", parentID: "b"), .init(id: "b", parentID: "a")])
        #expect(cyclic.chain(from: "a") == ["a", "b"])
    }

    /// Random forests, random writes, random references: every referenced layer reads the
    /// same after the whole plan runs, and every unreferenced layer either disappeared or is shared.
    @Test func reclaimNeverChangesWhatAReferencedLayerReads() async {
        // Four random numbers per layer: parent choice, two cluster writes, reference kind.
        let gen = Gen.int(in: 0...1_000_000).array(of: 4...56)
        await propertyCheck(count: 400, input: gen) { randoms in
            let count = randoms.count / 4
            if count == 0 { return }
            var layers: [LayerTree.Layer] = []
            var writes: [String: [Int: String]] = [:]
            for i in 0..<count {
                let parent: String? = i == 0 || randoms[i] % 5 == 0 ? nil : "L\(randoms[i] % i)"
                layers.append(.init(id: "L\(i)", parentID: parent))
                writes["L\(i)", default: [:]][randoms[count + i] % 6] = "v\(i)"
                writes["L\(i)", default: [:]][randoms[2 * count + i] % 6] = "w\(i)"
            }
            var refs = LayerTree.References(snapshotTops: [], active: [])
            for i in 0..<count where randoms[3 * count + i] % 3 == 0 {
                if randoms[3 * count + i] % 2 == 0 { refs.snapshotTops.insert("L\(i)") } else { refs.active.insert("L\(i)") }
            }
            let tree = LayerTree(layers)
            var model = ContentModel(tree: tree, writes: writes)
            let before = Dictionary(uniqueKeysWithValues: (refs.snapshotTops.union(refs.active)).map { ($0, model.composed($0)) })

            var liveRefs = refs
            // Follow each original reference through commits to the layer now holding it.
            var holder = Dictionary(uniqueKeysWithValues: before.keys.map { ($0, $0) })
            for step in tree.reclaimPlan(keeping: refs) {
                if case .delete(let id) = step { #expect(!liveRefs.contains(id), "deleted a referenced layer") }
                if case .commit(let child, let parent) = step {
                    for (k, v) in holder where v == child { holder[k] = parent }
                }
                model.apply(step, &liveRefs)
            }
            for (ref, content) in before {
                #expect(model.composed(holder[ref]!) == content, "content of \(ref) changed")
            }
            // Fixpoint: nothing left to reclaim.
            #expect(model.tree.reclaimPlan(keeping: liveRefs).isEmpty)
        }
    }
}
