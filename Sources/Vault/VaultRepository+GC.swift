import Foundation
import KVMSnapCore

public struct VaultGCReport: Sendable, Equatable {
    public var deletedChunks = 0
    public var deletedBytes: Int64 = 0
    /// Unreferenced chunks younger than the grace window (a send may be about to reference them).
    public var keptYoung = 0
    public var referencedChunks = 0
    /// Marks of live sends that made this gc delete nothing.
    public var deferredBy: [String] = []
    public var dryRun = false
}

extension VaultRepository {
    /// Deletes chunks no manifest references and that are older than `grace`.
    ///
    /// Safe against a concurrent send: gc writes `marks/gc-<id>` and then looks for live send
    /// marks; a send writes its mark and then waits while a live gc mark exists. Whichever comes
    /// second sees the other, so gc never deletes while a send runs: it returns `deferredBy`.
    /// Any unreadable manifest stops gc before it deletes anything.
    public func gc(grace: TimeInterval = 3600, now: Date = Date(), dryRun: Bool = false) throws(VaultError) -> VaultGCReport {
        try requireKeyIfEncrypted()
        let markKey = VaultLayout.mark("gc-\(UUID().uuidString.lowercased())")
        try backend.writeAtomic(markKey, Array("gc\n".utf8))
        defer { try? backend.delete(markKey) }
        var report = VaultGCReport(dryRun: dryRun)
        let sends = try liveMarks(prefix: "send-", ttl: Self.markTTL, now: now)
        guard sends.isEmpty else {
            report.deferredBy = sends.map(\.key)
            return report
        }
        var referenced = Set<ChunkID>()
        for key in try manifestKeys() { referenced.formUnion(try manifest(key: key).chunkRefs) }
        report.referencedChunks = referenced.count
        var lastTouch = ContinuousClock.now
        for object in try backend.list(prefix: VaultLayout.chunksPrefix) {
            guard let id = VaultLayout.chunkID(fromKey: object.key), !referenced.contains(id) else { continue }
            guard now.timeIntervalSince(object.modified) >= grace else { report.keptYoung += 1; continue }
            if !dryRun { try backend.delete(object.key) }
            report.deletedChunks += 1
            report.deletedBytes += object.size
            if ContinuousClock.now - lastTouch > .seconds(5) {
                try backend.touch(markKey)
                lastTouch = .now
            }
        }
        // Marks of sends killed long ago.
        if !dryRun {
            for mark in try backend.list(prefix: VaultLayout.marksPrefix)
            where mark.key != markKey && now.timeIntervalSince(mark.modified) > 4 * Self.markTTL {
                try backend.delete(mark.key)
            }
        }
        return report
    }
}
