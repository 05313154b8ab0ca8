/// What `kvmsnap doctor` read from the host, before any judgement. The command gathers it
/// (libvirt, statfs, qemu-img, /sys, the catalog); ``DoctorRules`` turns it into lines.
public struct HostFacts: Sendable, Equatable {
    public enum Daemon: Sendable, Equatable {
        case reachable
        /// The connection failed; `error` is libvirt's message.
        case unreachable(error: String)
    }

    /// The store directory as statvfs and the mount table saw it.
    public struct Store: Sendable, Equatable {
        /// The configured store directory.
        public var path: String
        /// What was measured: the store itself, or its nearest existing parent when it does not
        /// exist yet (kvmsnap creates it on the first snapshot).
        public var examinedPath: String
        /// The file system's type as the kernel names it (`ext4`, `xfs`, `tmpfs`, …); nil when unknown.
        public var filesystemType: String?
        /// Bytes available (`statvfs`'s `f_bavail * f_frsize`).
        public var freeBytes: Int64
        public var totalBytes: Int64
        /// Why statvfs failed, when it did.
        public var error: String?

        public init(path: String, examinedPath: String, filesystemType: String?, freeBytes: Int64, totalBytes: Int64, error: String? = nil) {
            self.path = path
            self.examinedPath = examinedPath
            self.filesystemType = filesystemType
            self.freeBytes = freeBytes
            self.totalBytes = totalBytes
            self.error = error
        }
    }

    public enum QemuImg: Sendable, Equatable {
        /// Not found on PATH.
        case missing
        /// `qemu-img --version` printed `output`.
        case found(path: String, output: String)
        /// Found, but `qemu-img --version` failed.
        case broken(path: String, error: String)
    }

    public enum CatalogState: Sendable, Equatable {
        /// No file at the path (the first `create` makes one).
        case missing(path: String)
        /// `PRAGMA integrity_check` answered "ok".
        case intact(path: String)
        /// `PRAGMA integrity_check` listed problems.
        case damaged(path: String, problems: [String])
        /// Could not be opened or checked at all (not a catalog, unreadable, malformed).
        case unreadable(path: String, error: String)
    }

    public var effectiveUserID: UInt32
    public var uri: String
    public var daemon: Daemon
    /// The daemon's libvirt version (`virConnectGetLibVersion`); nil when unreachable.
    public var libvirtVersion: SoftwareVersion?
    /// The libvirt library kvmsnap runs with (`virGetVersion`).
    public var clientLibraryVersion: SoftwareVersion?
    /// The hypervisor's version (QEMU for `qemu://`); nil when unreachable or unknown.
    public var qemuVersion: SoftwareVersion?
    /// What the daemon's capabilities XML says; nil when unreachable.
    public var capabilities: HostCapabilities?
    /// Whether `/run/libvirt/virtlogd-sock` exists; nil when it does not matter (not `qemu:///system`).
    public var virtlogdSocketPresent: Bool?
    public var store: Store
    public var qemuImg: QemuImg
    /// `/sys/module/apparmor/parameters/enabled` ("Y"/"N"), nil when AppArmor is not in the kernel.
    public var appArmorEnabled: String?
    /// `/sys/fs/selinux/enforce` ("1"/"0"), nil when SELinux is not mounted.
    public var seLinuxEnforce: String?
    public var catalog: CatalogState

    public init(
        effectiveUserID: UInt32, uri: String, daemon: Daemon, libvirtVersion: SoftwareVersion?, clientLibraryVersion: SoftwareVersion?,
        qemuVersion: SoftwareVersion?, capabilities: HostCapabilities?, virtlogdSocketPresent: Bool?, store: Store,
        qemuImg: QemuImg, appArmorEnabled: String?, seLinuxEnforce: String?, catalog: CatalogState
    ) {
        self.effectiveUserID = effectiveUserID
        self.uri = uri
        self.daemon = daemon
        self.libvirtVersion = libvirtVersion
        self.clientLibraryVersion = clientLibraryVersion
        self.qemuVersion = qemuVersion
        self.capabilities = capabilities
        self.virtlogdSocketPresent = virtlogdSocketPresent
        self.store = store
        self.qemuImg = qemuImg
        self.appArmorEnabled = appArmorEnabled
        self.seLinuxEnforce = seLinuxEnforce
        self.catalog = catalog
    }
}

/// The parts of libvirt's capabilities XML (`virConnectGetCapabilities`) doctor looks at.
/// libvirt generates this XML itself, so plain text matching is enough.
public struct HostCapabilities: Sendable, Equatable {
    /// A guest of `<domain type='kvm'>` can run (hardware virtualisation usable).
    public var kvm: Bool
    /// `<migration_features><live/>`: QEMU can stream memory while the guest runs, which a
    /// live external snapshot with memory is.
    public var liveMemory: Bool
    /// `<externalSnapshot/>` (libvirt 9.9+): libvirt can revert external snapshots itself.
    public var externalSnapshotRevert: Bool
    /// `<secmodel><model>…` entries other than `none`, e.g. `apparmor`, `selinux`, `dac`.
    public var securityModels: [String]

    public init(kvm: Bool, liveMemory: Bool, externalSnapshotRevert: Bool, securityModels: [String]) {
        self.kvm = kvm
        self.liveMemory = liveMemory
        self.externalSnapshotRevert = externalSnapshotRevert
        self.securityModels = securityModels
    }

    public init(xml: String) {
        kvm = xml.contains("<domain type='kvm'") || xml.contains("<domain type=\"kvm\"")
        var live = false
        if let start = xml.range(of: "<migration_features>"), let end = xml.range(of: "</migration_features>", range: start.upperBound..<xml.endIndex) {
            live = xml[start.upperBound..<end.lowerBound].contains("<live/>")
        }
        liveMemory = live
        externalSnapshotRevert = xml.contains("<externalSnapshot/>")
        var models: [String] = []
        var rest = xml[...]
        while let block = rest.range(of: "<secmodel>") {
            rest = rest[block.upperBound...]
            guard let open = rest.range(of: "<model>"), let close = rest.range(of: "</model>", range: open.upperBound..<rest.endIndex) else { break }
            let model = String(rest[open.upperBound..<close.lowerBound])
            if model != "none" { models.append(model) }
            rest = rest[close.upperBound...]
        }
        securityModels = models
    }
}

/// Which file system a path is on, from `/proc/self/mountinfo` (the kernel's own name for it:
/// `ext4`, `xfs`, `tmpfs`, `nfs4`, `fuse.sshfs`, …). Glibc's `statfs`, whose `f_type` would say
/// the same as a magic number, is not in Swift's Glibc module; `statvfs` (for space) is.
public enum MountTable {
    /// The file system type of the mount that holds `path` (absolute, symbolic links resolved):
    /// the entry with the longest mount point that is `path` or one of its parents; of equal
    /// mount points the last (it is mounted over the others). Nil when no line parses.
    public static func filesystemType(of path: String, mountinfo: String) -> String? {
        var best: (mountPoint: String, type: String)?
        for line in mountinfo.split(separator: "\n") {
            // "36 35 98:0 /mnt1 /mnt2 rw,noatime master:1 - ext3 /dev/root rw,errors=continue"
            let fields = line.split(separator: " ", omittingEmptySubsequences: false)
            guard fields.count >= 7, let dash = fields.firstIndex(of: "-"), dash >= 6, dash + 1 < fields.count else { continue }
            let mountPoint = unescape(String(fields[4]))
            let type = String(fields[dash + 1])
            guard contains(mountPoint, path) else { continue }
            if best == nil || mountPoint.count >= best!.mountPoint.count { best = (mountPoint, type) }
        }
        return best?.type
    }

    /// True when `path` is `mountPoint` or below it (whole path components).
    static func contains(_ mountPoint: String, _ path: String) -> Bool {
        if mountPoint == "/" || mountPoint == path { return true }
        return path.hasPrefix(mountPoint + "/")
    }

    /// mountinfo writes space, tab, newline and backslash as octal escapes (`\040`).
    static func unescape(_ field: String) -> String {
        guard field.contains("\\") else { return field }
        var bytes: [UInt8] = []
        let source = Array(field.utf8)
        var i = 0
        while i < source.count {
            if source[i] == UInt8(ascii: "\\"), i + 3 < source.count,
                let value = UInt8(String(decoding: source[(i + 1)...(i + 3)], as: UTF8.self), radix: 8)
            {
                bytes.append(value)
                i += 4
            } else {
                bytes.append(source[i])
                i += 1
            }
        }
        return String(decoding: bytes, as: UTF8.self)
    }
}
