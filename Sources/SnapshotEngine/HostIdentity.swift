import Foundation

/// This host's stable id, recorded in every vault manifest it writes, so that several hosts
/// sharing one vault are told apart even when their names are alike (`localhost`, a reused
/// hostname). A random UUID made once and kept at `<store>/host-id`; a store copied to a new
/// machine keeps its id (it is the same kvmsnap host: same catalog, same VMs).
enum HostIdentity {
    static func path(_ store: StoreLayout) -> String { "\(store.root)/host-id" }

    /// The id, made on first use. Two processes making it at once agree: the file is written
    /// under a temporary name and linked into place, and the loser reads the winner's.
    static func id(_ store: StoreLayout) throws(EngineError) -> String {
        if let existing = read(path(store)) { return existing }
        try store.prepare([])
        let tmp = "\(path(store)).tmp-\(getpid())-\(UInt32.random(in: 0...UInt32.max))"
        let id = UUID().uuidString.lowercased()
        guard FileManager.default.createFile(atPath: tmp, contents: Data((id + "\n").utf8), attributes: [.posixPermissions: 0o644]) else {
            throw EngineError(.io, "cannot write \(tmp)")
        }
        defer { unlink(tmp) }
        let fd = open(tmp, O_RDONLY | O_CLOEXEC)
        if fd >= 0 { fsync(fd); close(fd) }
        if link(tmp, path(store)) != 0, errno != EEXIST {
            throw EngineError(.io, "cannot create \(path(store)): \(String(cString: strerror(errno)))")
        }
        guard let stored = read(path(store)) else { throw EngineError(.io, "\(path(store)) holds no host id") }
        return stored
    }

    private static func read(_ path: String) -> String? {
        guard let text = try? String(contentsOfFile: path, encoding: .utf8) else { return nil }
        let id = text.trimmingCharacters(in: .whitespacesAndNewlines)
        return UUID(uuidString: id) != nil ? id : nil
    }
}
