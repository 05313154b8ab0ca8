import Foundation
import KVMSnapCore
import SnapshotCatalog

/// What a vault send of one disk of a snapshot reads: the image to export (the snapshot's top
/// layer, read with its backing chain), what is allocated in it, and what changed since the
/// vault's base snapshot when that base is an ancestor on this disk's chain.
public struct VaultDiskSource: Sendable, Equatable {
    /// libvirt target, e.g. `vda`.
    public var diskTarget: String
    /// The snapshot's frozen top layer for this disk: export it read-only (``NBDExport``).
    public var topPath: String
    public var format: String
    /// Virtual size of the disk in bytes.
    public var virtualSize: Int64
    /// Ranges holding data anywhere in the chain (not reading as zero). A full read reads
    /// these; everything else reads as zeroes.
    public var allocated: [ImageRange]
    /// Ranges whose content may differ from the base snapshot's disk (a superset of what
    /// changed, cluster-aligned); nil when there is no usable base: read everything.
    public var changed: [ImageRange]?
    /// Why this disk is read in full (nil when ``changed`` is set), e.g. "no base snapshot".
    public var fullReadReason: String?

    public init(
        diskTarget: String, topPath: String, format: String, virtualSize: Int64, allocated: [ImageRange],
        changed: [ImageRange]?, fullReadReason: String?
    ) {
        self.diskTarget = diskTarget; self.topPath = topPath; self.format = format; self.virtualSize = virtualSize
        self.allocated = allocated; self.changed = changed; self.fullReadReason = fullReadReason
    }
}

/// Chooses, per disk, the layers whose own clusters make up the difference between a base
/// snapshot A and a snapshot S, and maps them with `qemu-img map`.
///
/// ## Why the union of the layers above A's top is a superset of what changed
/// A snapshot's top layer is frozen when the snapshot is taken; every later guest write goes
/// into a layer created after it (an overlay on top, which the next snapshot freezes in turn).
/// So when A's top layer `LA` is on S's chain `LS → … → LA → …`, S's content differs from A's
/// only where one of the layers strictly above `LA` holds its own clusters (data or explicit
/// zeroes; a discard in an overlay with a backing file writes zero clusters, it does not
/// deallocate). Those layers' depth-0 extents, united, cover every changed byte.
///
/// Reclaim (``LayerStore/reclaim(vmUUID:domain:)``) keeps that true. Its steps are
/// `delete(leaf)` (an unreferenced leaf is never on a referenced snapshot's chain below its
/// top, so S's chain is untouched) and `commit(child, into: parent)` for an unreferenced
/// `parent` whose only child is `child`; `child`'s clusters are written into `parent` and
/// `child`'s references and children move to `parent`. Cases:
/// - both above `LA` on S's chain (or `child` is `LS` itself): the merged layer's own clusters
///   are the union of the two layers' own clusters; the union over the layers above `LA` is the same.
/// - `child` is `LA` (A's reference moves down to its parent `P`): the layers above A's new top
///   `P` are the same layers as before, so the union is unchanged.
/// - `parent` is `LA` or `LS`: impossible, both are referenced by a snapshot.
/// A commit can only grow a layer's own clusters (whole clusters, written zeroes included), so
/// the union never shrinks below what changed. What it cannot preserve is the relation itself:
/// when A is deleted locally (or S was taken on another branch after a revert, or is a
/// `--full` copy, a standalone image), A's top is not on S's chain and the disk is read in full.
///
/// The caller must keep S's and A's layers from being reclaimed while it reads (hold the VM's
/// lock, or keep A and S referenced).
public enum VaultDiskSources {
    /// Per disk of snapshot `snapshotID`: its top layer and, when `baseSnapshotID`'s top layer
    /// for that disk is on the chain, the layers strictly above it (nearest first; empty when
    /// both snapshots share the top layer). Pure: reads only the records given.
    public struct Selection: Sendable, Equatable {
        public var diskTarget: String
        public var top: LayerRecord
        /// nil: no base on this chain, with ``reason``.
        public var layersAboveBase: [LayerRecord]?
        public var reason: String?
    }

    /// - Throws: `.notFound` when `snapshotID` has no disks, or a disk's top layer is not in `layers`.
    public static func select(
        layers: [LayerRecord], disks: [SnapshotDiskRecord], baseSnapshotID: String?,
        snapshotID: String
    ) throws(EngineError) -> [Selection] {
        let byID = Dictionary(layers.map { ($0.id, $0) }, uniquingKeysWith: { first, _ in first })
        let tree = LayerTree(layers.map { LayerTree.Layer(id: $0.id, parentID: $0.parentLayerID) })
        let sent = disks.filter { $0.snapshotID == snapshotID }.sorted { $0.diskTarget < $1.diskTarget }
        guard !sent.isEmpty else { throw EngineError(.notFound, "snapshot \(snapshotID) has no disks in the catalog") }
        var result: [Selection] = []
        for disk in sent {
            guard let top = byID[disk.layerID] else {
                throw EngineError(.notFound, "layer \(disk.layerID) of disk \(disk.diskTarget) of snapshot \(snapshotID) is not in the catalog")
            }
            var selection = Selection(diskTarget: disk.diskTarget, top: top, layersAboveBase: nil, reason: nil)
            guard let baseSnapshotID else {
                selection.reason = "no base snapshot"; result.append(selection); continue
            }
            guard let baseTop = disks.first(where: { $0.snapshotID == baseSnapshotID && $0.diskTarget == disk.diskTarget })?.layerID else {
                selection.reason = "the base snapshot has no disk \(disk.diskTarget)"; result.append(selection); continue
            }
            let chain = tree.chain(from: top.id)
            guard let baseIndex = chain.firstIndex(of: baseTop) else {
                selection.reason = "the base snapshot's layer is not an ancestor of this one (another branch, or a full copy)"
                result.append(selection); continue
            }
            let above = chain[..<baseIndex].compactMap { byID[$0] }
            guard above.count == baseIndex else {
                selection.reason = "a layer between the base and this snapshot is missing from the catalog"
                result.append(selection); continue
            }
            selection.layersAboveBase = above
            result.append(selection)
        }
        return result
    }

    /// Maps the selected layers: `qemu-img map` of each top (allocation of the whole chain)
    /// and of each layer above the base (its own clusters).
    /// - Throws: `.io` when qemu-img fails or a layer file is missing.
    public static func sources(
        layers: [LayerRecord], disks: [SnapshotDiskRecord], baseSnapshotID: String?,
        snapshotID: String
    ) throws(EngineError) -> [VaultDiskSource] {
        var result: [VaultDiskSource] = []
        for selection in try select(layers: layers, disks: disks, baseSnapshotID: baseSnapshotID, snapshotID: snapshotID) {
            let topMap = try ImageTool.map(selection.top.path)
            var changed: [ImageRange]?
            if let above = selection.layersAboveBase {
                var lists: [[ImageRange]] = []
                for layer in above {
                    lists.append(layer.id == selection.top.id ? topMap.ownRanges : try ImageTool.map(layer.path).ownRanges)
                }
                changed = ImageRange.union(lists)
            }
            result.append(
                VaultDiskSource(
                    diskTarget: selection.diskTarget, topPath: selection.top.path, format: selection.top.format,
                    virtualSize: topMap.mappedSize, allocated: topMap.dataRanges, changed: changed, fullReadReason: selection.reason))
        }
        return result
    }
}

extension ImageTool {
    /// `qemu-img map --output=json -U` of `path` with its backing chain (`-U`: the chain may be
    /// open in a running VM; only frozen layers are mapped, so the answer is stable).
    /// - Throws: `.io` when qemu-img fails or prints something that is not a map.
    public static func map(_ path: String) throws(EngineError) -> ImageMap {
        let json = try qemuImg(["map", "-U", "--output=json", operand(path)])
        do { return try ImageMap(json: Data(json.utf8)) } catch { throw EngineError(.io, "\(error.description) (\(path))") }
    }
}

extension SnapshotEngine {
    /// What a vault send of `snapshotID` reads per disk, incremental to `baseSnapshotID` where
    /// that snapshot's layers are ancestors (see ``VaultDiskSources``). Reads the catalog and
    /// runs `qemu-img map`; changes nothing.
    public func vaultDiskSources(vmUUID: String, baseSnapshotID: String?, snapshotID: String) throws(EngineError) -> [VaultDiskSource] {
        let (layers, disks) = try withCatalog { () throws(CatalogError) in
            try catalog.read { db in (try db.layers(vmUUID: vmUUID), try db.disks(vmUUID: vmUUID)) }
        }
        return try VaultDiskSources.sources(layers: layers, disks: disks, baseSnapshotID: baseSnapshotID, snapshotID: snapshotID)
    }
}
