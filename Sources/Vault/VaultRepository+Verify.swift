import Dispatch
import Foundation
import KVMSnapCore

/// One problem verify found, naming the object.
public struct VaultProblem: Sendable, Equatable, CustomStringConvertible {
    public enum Kind: String, Sendable { case missingChunk, badChunk, badManifest, badIndex }
    public var kind: Kind
    /// The object's key (`chunks/ab/ab…`, `snapshots/<uuid>/<name>.manifest`).
    public var object: String
    public var detail: String
    /// Manifests that reference the object (for chunk problems).
    public var referencedBy: [String]

    public var description: String { "\(kind.rawValue) \(object): \(detail)" }
}

public struct VaultVerifyReport: Sendable, Equatable {
    public var ok: Bool { problems.isEmpty }
    public var problems: [VaultProblem]
    public var manifestsChecked: Int
    public var chunksChecked: Int
    /// Whether chunk contents were decoded and re-hashed (`readData` with the key), or only
    /// read and framed (`readData` without the key), or only checked to exist.
    public var dataChecked: Bool
}

extension VaultRepository {
    /// Checks every manifest's authentication and that every chunk it references exists; with
    /// `readData`, reads every referenced chunk and re-hashes it (with the key; without it,
    /// checks its framing and that the tag's room is there).
    public func verify(readData: Bool) throws(VaultError) -> VaultVerifyReport {
        var problems: [VaultProblem] = []
        var referencedBy: [ChunkID: [String]] = [:]
        let keys = try manifestKeys()
        for key in keys {
            do {
                let refs = try referencedChunks(key)
                for id in refs { referencedBy[id, default: []].append(key) }
            } catch {
                problems.append(VaultProblem(kind: .badManifest, object: key, detail: "\(error)", referencedBy: []))
            }
        }
        let present = Set(try backend.list(prefix: VaultLayout.chunksPrefix).compactMap { VaultLayout.chunkID(fromKey: $0.key) })
        let ids = referencedBy.keys.sorted()
        var toRead: [ChunkID] = []
        for id in ids {
            if present.contains(id) {
                toRead.append(id)
            } else {
                problems.append(
                    VaultProblem(
                        kind: .missingChunk, object: VaultLayout.chunk(id), detail: "referenced but absent",
                        referencedBy: referencedBy[id] ?? []))
            }
        }
        if readData {
            problems += try readChunks(toRead, referencedBy: referencedBy)
        }
        return VaultVerifyReport(
            problems: problems, manifestsChecked: keys.count, chunksChecked: ids.count,
            dataChecked: readData && (canDecodeChunks || !config.isEncrypted))
    }

    private var canDecodeChunks: Bool { self.keys != nil }

    private func referencedChunks(_ key: String) throws(VaultError) -> [ChunkID] {
        if self.keys != nil || !config.isEncrypted { return try manifest(key: key).chunkRefs }
        return try chunkRefs(manifestKey: key)
    }

    private func readChunks(_ ids: [ChunkID], referencedBy: [ChunkID: [String]]) throws(VaultError) -> [VaultProblem] {
        var found = [VaultProblem?](repeating: nil, count: ids.count)
        let canDecode = self.keys != nil || !config.isEncrypted
        found.withUnsafeMutableBufferPointer { out in
            parallelFor(ids.count) { k in
                let id = ids[k], key = VaultLayout.chunk(id)
                do throws(VaultError) {
                    if canDecode {
                        _ = try chunk(id)
                    } else if let p = ChunkCodec.structuralProblem(try backend.get(key)) {
                        throw .corruptChunk(key: key, reason: p)
                    }
                } catch .missingObject {
                    out[k] = VaultProblem(kind: .missingChunk, object: key, detail: "vanished during verify", referencedBy: referencedBy[id] ?? [])
                } catch {
                    out[k] = VaultProblem(kind: .badChunk, object: key, detail: "\(error)", referencedBy: referencedBy[id] ?? [])
                }
            }
        }
        return found.compactMap { $0 }
    }
}
