import Foundation

/// Where kvmsnap keeps its files. Every file is named by an id, never by a user-supplied name.
///
/// ```
/// <root>/vms/<vm-uuid>/layers/<layer-id>.qcow2    disk overlays and full copies (0600, owned by qemu once used)
/// <root>/vms/<vm-uuid>/memory/<snapshot-id>.mem   saved guest memory (0600 root: it holds guest secrets)
/// <root>/vms/<vm-uuid>/nvram/<snapshot-id>.fd     UEFI variable store copies (0600)
/// <root>/locks/<vm-uuid>.lock                     one operation per VM at a time (flock)
/// <root>/locks/run-due.lock                       one scheduler run at a time (flock, non-blocking)
/// ```
public struct StoreLayout: Sendable, Equatable {
    public var root: String

    public init(root: String) { self.root = root }

    public func vmDirectory(_ vmUUID: String) -> String { "\(root)/vms/\(vmUUID)" }
    public func layersDirectory(_ vmUUID: String) -> String { "\(vmDirectory(vmUUID))/layers" }
    public func memoryDirectory(_ vmUUID: String) -> String { "\(vmDirectory(vmUUID))/memory" }
    public func nvramDirectory(_ vmUUID: String) -> String { "\(vmDirectory(vmUUID))/nvram" }
    public func layerPath(vmUUID: String, layerID: String) -> String { "\(layersDirectory(vmUUID))/\(layerID).qcow2" }
    /// The layer id a path from ``layerPath(vmUUID:layerID:)`` was made from.
    public static func layerID(fromPath path: String) -> String { ((path as NSString).lastPathComponent as NSString).deletingPathExtension }
    public func memoryPath(vmUUID: String, snapshotID: String) -> String { "\(memoryDirectory(vmUUID))/\(snapshotID).mem" }
    public func nvramPath(vmUUID: String, snapshotID: String) -> String { "\(nvramDirectory(vmUUID))/\(snapshotID).fd" }
    public func lockPath(_ vmUUID: String) -> String { "\(root)/locks/\(vmUUID).lock" }
    public var runDueLockPath: String { "\(root)/locks/run-due.lock" }

    /// Creates the store root and its lock directory.
    public func prepareLocks() throws(EngineError) {
        try prepare([("\(root)/locks", 0o700)])
    }

    /// Creates the VM's directories. Layer directories must be traversable by the QEMU user;
    /// memory and NVRAM directories are root-only (libvirtd opens those files for QEMU).
    public func prepare(vmUUID: String) throws(EngineError) {
        try prepare([
            ("\(root)/vms", 0o711), ("\(root)/locks", 0o700), (vmDirectory(vmUUID), 0o711),
            (layersDirectory(vmUUID), 0o711), (memoryDirectory(vmUUID), 0o700), (nvramDirectory(vmUUID), 0o700),
        ])
    }

    /// Makes the store root (0711 when kvmsnap creates it; an existing directory keeps its mode:
    /// it may be anyone's, e.g. a sticky /tmp) and then the store's own subdirectories, which
    /// are kvmsnap's: made with `mode`, or brought back to it, and refused when they are not
    /// directories owned by kvmsnap's user (a symlink or another user's directory there).
    func prepare(_ subdirectories: [(String, Int)]) throws(EngineError) {
        var info = stat()
        if stat(root, &info) != 0 {
            do { try FileManager.default.createDirectory(atPath: (root as NSString).deletingLastPathComponent, withIntermediateDirectories: true) } catch {
                throw EngineError(.io, "cannot create the parent of store \(root): \(error.localizedDescription)")
            }
            try Self.makeDirectory(root, mode: 0o711)
        } else if info.st_mode & S_IFMT != S_IFDIR {
            throw EngineError(.io, "store \(root) is not a directory")
        }
        for (dir, mode) in subdirectories {
            if lstat(dir, &info) != 0 { try Self.makeDirectory(dir, mode: mode); continue }
            guard info.st_mode & S_IFMT == S_IFDIR, info.st_uid == geteuid() else {
                throw EngineError(.io, "\(dir) is not a directory of kvmsnap's user (uid \(geteuid())): refusing to use it as part of the store")
            }
            if Int(info.st_mode & 0o7777) != mode, chmod(dir, mode_t(mode)) != 0 {
                throw EngineError(.io, "cannot set mode \(String(mode, radix: 8)) on \(dir): \(String(cString: strerror(errno)))")
            }
        }
    }

    /// Creates one directory with exactly `mode` (set again after mkdir: the umask does not
    /// narrow it); another process creating it at the same moment is fine.
    static func makeDirectory(_ dir: String, mode: Int) throws(EngineError) {
        if mkdir(dir, mode_t(mode)) != 0 {
            guard errno == EEXIST else { throw EngineError(.io, "cannot create \(dir): \(String(cString: strerror(errno)))") }
            return
        }
        chmod(dir, mode_t(mode))
    }
}

/// Short random ids for snapshots and layers (12 hex digits, collision-checked by the catalog).
enum Identifier {
    static func make(_ prefix: String) -> String {
        var rng = SystemRandomNumberGenerator()
        return prefix + String(format: "%012llx", rng.next() & 0xFFFF_FFFF_FFFF)
    }
}
