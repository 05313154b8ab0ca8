/// The qcow2 layers of one VM as a forest: each layer is backed by at most one parent.
///
/// A layer is *needed* when a snapshot's frozen top points at it, when the VM is running on
/// it (its active layer), or when another layer is backed by it. The content a snapshot
/// restores is its top layer composed with every ancestor, so the one invariant is: no
/// reclaim step may change the composed content of any referenced layer.
///
/// Pure value: the engine feeds it what the catalog says and executes the plan it returns.
public struct LayerTree: Sendable, Equatable {
    public struct Layer: Sendable, Equatable {
        public var id: String
        public var parentID: String?
        public init(id: String, parentID: String?) { self.id = id; self.parentID = parentID }
    }

    /// Why a layer must stay: references kept outside the tree itself.
    public struct References: Sendable, Equatable {
        /// Layers that are some snapshot's frozen top (snapshot id → layer ids).
        public var snapshotTops: Set<String>
        /// Layers the VM is currently running on (one per disk), if any.
        public var active: Set<String>
        public init(snapshotTops: Set<String>, active: Set<String>) {
            self.snapshotTops = snapshotTops; self.active = active
        }
        public func contains(_ id: String) -> Bool { snapshotTops.contains(id) || active.contains(id) }
    }

    /// One step of reclaiming space. Steps must run in order; each leaves every referenced
    /// layer's composed content unchanged.
    public enum ReclaimStep: Sendable, Equatable, CustomStringConvertible {
        /// Nothing refers to `layer` and nothing is backed by it: remove its file.
        case delete(layer: String)
        /// `parent` is unreferenced and `child` is its only child: write child's clusters into
        /// parent, move child's references and children to parent, then remove child's file.
        /// Composed content is unchanged because child's clusters masked parent's anyway.
        case commit(child: String, into: String)

        public var description: String {
            switch self {
            case .delete(let l): "delete \(l)"
            case .commit(let c, let p): "commit \(c) into \(p)"
            }
        }
    }

    public private(set) var layers: [String: Layer]

    public init(_ layers: [Layer]) {
        self.layers = Dictionary(layers.map { ($0.id, $0) }, uniquingKeysWith: { a, _ in a })
    }

    public func children(of id: String) -> [String] {
        layers.values.filter { $0.parentID == id }.map(\.id).sorted()
    }

    /// `id` followed by its ancestors, nearest first.
    public func chain(from id: String) -> [String] {
        var result: [String] = []
        var cursor: String? = id
        var seen = Set<String>()
        while let current = cursor, let layer = layers[current], seen.insert(current).inserted {
            result.append(current)
            cursor = layer.parentID
        }
        return result
    }

    /// The steps that reclaim everything no reference needs, in execution order.
    ///
    /// Leaves go first (a deleted leaf can turn its parent into a leaf or a single-child
    /// layer), then single-child merges. A layer with two or more children is shared and stays.
    public func reclaimPlan(keeping references: References) -> [ReclaimStep] {
        var tree = self
        var refs = references
        var steps: [ReclaimStep] = []
        while let step = tree.nextStep(references: refs) {
            steps.append(step)
            tree.apply(step, references: &refs)
        }
        return steps
    }

    func nextStep(references: References) -> ReclaimStep? {
        var childCount: [String: Int] = [:]
        for layer in layers.values { if let p = layer.parentID { childCount[p, default: 0] += 1 } }
        let unreferenced = layers.keys.filter { !references.contains($0) }.sorted()
        if let leaf = unreferenced.first(where: { childCount[$0, default: 0] == 0 }) {
            return .delete(layer: leaf)
        }
        if let parent = unreferenced.first(where: { childCount[$0, default: 0] == 1 }) {
            return .commit(child: children(of: parent)[0], into: parent)
        }
        return nil
    }

    /// Applies a step to the model (the engine does the same to files and the catalog).
    public mutating func apply(_ step: ReclaimStep, references: inout References) {
        switch step {
        case .delete(let id):
            layers[id] = nil
        case .commit(let child, let parent):
            for (id, layer) in layers where layer.parentID == child {
                layers[id]?.parentID = parent
            }
            if references.snapshotTops.remove(child) != nil { references.snapshotTops.insert(parent) }
            if references.active.remove(child) != nil { references.active.insert(parent) }
            layers[child] = nil
        }
    }
}
