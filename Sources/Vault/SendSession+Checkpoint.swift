import Foundation
import KVMSnapCore

/// What an unfinished send has stored so far, so that a resumed send of the same snapshot reads
/// only what is missing (hashing needs the data, so the chunks already in the vault alone do
/// not tell which source bytes they came from).
///
/// Kept at `partial/<vmUUID>/<snapshot>` (``VaultLayout/partial(vmUUID:snapshot:)``), replaced
/// atomically after stored batches (at most every ``SendSession/checkpointInterval``), deleted
/// by the commit. It holds chunk ids only (no plaintext; ids are the chunk files' names anyway).
/// A resumed send trusts an entry only when the chunk it names still exists (gc may have
/// reclaimed it), and only when the checkpoint was made from the same local snapshot.
public struct SendCheckpoint: Codable, Sendable, Equatable {
    public static let currentFormatVersion = 1

    public struct Stream: Codable, Sendable, Equatable {
        /// Bytes of the stream the entries cover (a cut point of the chunker).
        public var offset: Int64
        public var ids: [ChunkID]
        public var lengths: [Int]
    }

    public var formatVersion = Self.currentFormatVersion
    public var localSnapshotID: String?
    /// Per disk target: the index entries of its first slots, in order (zero id: hole).
    public var disks: [String: [ChunkID]] = [:]
    /// Per stream name (`memory`, `nvram`): the entries stored from its start.
    public var streams: [String: Stream] = [:]

    public init(localSnapshotID: String?) { self.localSnapshotID = localSnapshotID }
}

extension SendSession {
    /// Turns checkpoints on for this send and loads the one a killed send of the same snapshot
    /// left (made from `localSnapshotID`); returns it, nil when there was none to resume.
    @discardableResult
    public func enableCheckpoints(vmUUID: String, snapshot: String, localSnapshotID: String?) throws(VaultError) -> SendCheckpoint? {
        guard VaultLayout.isSafeComponent(vmUUID), VaultLayout.isSafeComponent(snapshot) else { throw .invalidName(snapshot) }
        let key = VaultLayout.partial(vmUUID: vmUUID, snapshot: snapshot)
        checkpointKey = key
        checkpoint = SendCheckpoint(localSnapshotID: localSnapshotID)
        guard try repository.backend.exists(key) else { return nil }
        guard let found = try? VaultJSON.decoder.decode(SendCheckpoint.self, from: Data(try repository.backend.get(key))),
            found.formatVersion == SendCheckpoint.currentFormatVersion, found.localSnapshotID == localSnapshotID
        else { return nil }  // unreadable or of another snapshot: start over (the next save replaces it)
        resumeFrom = found
        return found
    }

    /// The resumable entries of a disk: the checkpoint's prefix, each non-zero id only while its chunk exists.
    func resumableSlots(_ target: String, slotCount: Int) throws(VaultError) -> [ChunkID?] {
        guard let ids = resumeFrom?.disks[target], ids.count <= slotCount else { return [] }
        var out: [ChunkID?] = []
        for id in ids {
            var present = id.isZero
            if !present { present = try repository.backend.exists(VaultLayout.chunk(id)) }
            out.append(present ? id : nil)
        }
        return out
    }

    /// Where a resumed stream goes on: its checkpoint's entries up to the first missing chunk.
    public func resumableStream(_ name: String) throws(VaultError) -> SendCheckpoint.Stream? {
        guard let s = resumeFrom?.streams[name], s.ids.count == s.lengths.count else { return nil }
        var kept = SendCheckpoint.Stream(offset: 0, ids: [], lengths: [])
        for (id, length) in zip(s.ids, s.lengths) {
            guard try repository.backend.exists(VaultLayout.chunk(id)) else { break }
            kept.ids.append(id)
            kept.lengths.append(length)
            kept.offset += Int64(length)
        }
        return kept.ids.isEmpty ? nil : kept
    }

    /// Replaces the checkpoint when checkpoints are on and the last save is older than
    /// ``checkpointInterval`` (or `force`), then calls ``afterCheckpoint``.
    func saveCheckpoint(force: Bool = false) throws(VaultError) {
        guard let key = checkpointKey, let checkpoint else { return }
        guard force || ContinuousClock.now - lastCheckpointSave >= checkpointInterval else { return }
        let bytes: [UInt8]
        do { bytes = Array(try VaultJSON.encoder.encode(checkpoint)) } catch { throw .sink("cannot encode the send checkpoint: \(error)") }
        // Chunks first: a checkpoint never names a chunk that is not durable.
        try repository.backend.flush()
        try repository.backend.writeAtomic(key, bytes)
        lastCheckpointSave = .now
        try afterCheckpoint?()
    }

    /// Deletes the checkpoint (after the manifest is written).
    func dropCheckpoint() throws(VaultError) {
        guard let key = checkpointKey else { return }
        try repository.backend.delete(key)
        checkpointKey = nil
    }
}
