/// Turns ``HostFacts`` into `kvmsnap doctor`'s lines. Pure: the same facts give the same lines.
///
/// The thresholds say what kvmsnap needs, not what is fashionable:
/// - libvirt 3.7.0 is the oldest that has every call kvmsnap makes (the newest of them is
///   `virDomainMigrateGetMaxDowntime`, 3.7.0; block copy 1.2.8, active commit 1.2.7, FS freeze
///   1.2.5); kvmsnap is tested with 9.0 (Debian 12), so older ones are a warning.
///   (The binary itself links libvirt 6.0's symbol versions, so the library it runs with is at
///   least 6.0 — the .deb depends on `libvirt0 (>= 6.0.0)`; the daemon may be older.)
/// - QEMU 4.2 is the oldest libvirt drives with `-blockdev`, which the block copy of
///   `create --full` and the live merges of `delete` are written against; tested with 7.2.
public enum DoctorRules {
    public static let minimumLibvirt = SoftwareVersion(3, 7, 0)
    public static let testedLibvirt = SoftwareVersion(9, 0, 0)
    /// libvirt reverts external snapshots itself from here (kvmsnap keeps its own revert).
    public static let libvirtExternalRevert = SoftwareVersion(9, 9, 0)
    public static let minimumQEMU = SoftwareVersion(4, 2, 0)
    public static let testedQEMU = SoftwareVersion(7, 2, 0)
    /// Below this the store fails: one memory image alone is about the guest's RAM.
    public static let minimumFreeBytes: Int64 = 1 << 30
    /// Below this (or 10 % of the file system) the store warns.
    public static let comfortableFreeBytes: Int64 = 10 << 30

    static let networkFilesystems: Set<String> = ["nfs", "nfs4", "cifs", "smb3", "9p", "ceph", "glusterfs", "gfs2", "ocfs2", "virtiofs"]

    public static func checks(_ facts: HostFacts) -> [DoctorCheck] {
        var lines = [user(facts), daemon(facts)]
        lines += hypervisor(facts)
        lines += security(facts)
        lines += store(facts.store)
        lines += [qemuImg(facts.qemuImg), catalog(facts.catalog)]
        return lines
    }

    /// The worst status among `checks` (ok for none).
    public static func overall(_ checks: [DoctorCheck]) -> DoctorCheck.Status {
        checks.map(\.status).max() ?? .ok
    }

    static func user(_ facts: HostFacts) -> DoctorCheck {
        facts.effectiveUserID == 0
            ? DoctorCheck("user", .ok, "running as root")
            : DoctorCheck(
                "user", .warn, "running as uid \(facts.effectiveUserID), not root",
                hint: "kvmsnap reads and writes VM images, the store and the catalog: run it as root (or with sudo)")
    }

    static func daemon(_ facts: HostFacts) -> DoctorCheck {
        switch facts.daemon {
        case .reachable:
            return DoctorCheck("daemon", .ok, "libvirtd answers at \(facts.uri)")
        case .unreachable(let error):
            return DoctorCheck(
                "daemon", .fail, "cannot connect to \(facts.uri): \(error)",
                hint: "start libvirtd: 'systemctl start libvirtd' with systemd, else 'virtlogd -d; libvirtd -d' (scripts/host-setup.sh does either)")
        }
    }

    /// libvirt, QEMU and what they can do; only a reachable daemon can say.
    static func hypervisor(_ facts: HostFacts) -> [DoctorCheck] {
        guard facts.daemon == .reachable else {
            let skipped = "not checked: libvirtd is not reachable"
            return ["libvirt", "qemu", "kvm", "memory-snapshots"].map { DoctorCheck($0, .warn, skipped, hint: "see the daemon line") }
        }
        var lines = [libvirt(facts.libvirtVersion, client: facts.clientLibraryVersion), qemu(facts.qemuVersion)]
        if let caps = facts.capabilities {
            lines.append(
                caps.kvm
                    ? DoctorCheck("kvm", .ok, "hardware virtualisation available (<domain type='kvm'>)")
                    : DoctorCheck(
                        "kvm", .warn, "libvirt offers no <domain type='kvm'>: guests run under TCG emulation (slow)",
                        hint: "enable VT-x/AMD-V (or nested virtualisation) and make /dev/kvm accessible; TCG works but is slow"))
            lines.append(
                caps.liveMemory
                    ? DoctorCheck(
                        "memory-snapshots", .ok,
                        "live external snapshots with memory (QEMU streams memory while the guest runs)"
                            + (caps.externalSnapshotRevert ? "; libvirt can revert them too, kvmsnap uses its own revert" : "; kvmsnap reverts them itself"))
                    : DoctorCheck(
                        "memory-snapshots", .warn, "capabilities list no live migration: a snapshot with memory pauses the guest while memory is written",
                        hint: "use a QEMU build with live migration, or take --disk-only snapshots"))
        } else {
            lines.append(DoctorCheck("kvm", .warn, "capabilities could not be read", hint: "virsh capabilities"))
        }
        if let present = facts.virtlogdSocketPresent {
            lines.append(
                present
                    ? DoctorCheck("virtlogd", .ok, "virtlogd socket present")
                    : DoctorCheck(
                        "virtlogd", .warn, "no /run/libvirt/virtlogd-sock: starting or restoring a VM will fail",
                        hint: "start virtlogd ('systemctl start virtlogd.socket', else 'virtlogd -d')"))
        }
        return lines
    }

    static func libvirt(_ version: SoftwareVersion?, client: SoftwareVersion?) -> DoctorCheck {
        let clientNote = client.map { $0 == version ? "" : " (kvmsnap's library: \($0))" } ?? ""
        guard let version else { return DoctorCheck("libvirt", .warn, "the daemon did not report its version", hint: "virsh version") }
        let detail = "libvirt \(version)\(clientNote)"
        if version < minimumLibvirt {
            return DoctorCheck(
                "libvirt", .fail, detail + ": older than \(minimumLibvirt), which has every call kvmsnap makes",
                hint: "upgrade libvirt (Debian 12 ships 9.0)")
        }
        if version < testedLibvirt {
            return DoctorCheck(
                "libvirt", .warn, detail + ": older than \(testedLibvirt), the version kvmsnap is tested with",
                hint: "it may work; upgrade libvirt to be on the tested path")
        }
        let revert = version < libvirtExternalRevert ? "external snapshot revert done by kvmsnap" : "libvirt also reverts external snapshots"
        return DoctorCheck("libvirt", .ok, "\(detail); external snapshots with memory, block copy, active commit; \(revert)")
    }

    static func qemu(_ version: SoftwareVersion?) -> DoctorCheck {
        guard let version, version.major > 0 else {
            return DoctorCheck("qemu", .warn, "the hypervisor did not report a version", hint: "kvmsnap needs the QEMU driver (qemu:///system)")
        }
        if version < minimumQEMU {
            return DoctorCheck(
                "qemu", .fail,
                "QEMU \(version): older than \(minimumQEMU); libvirt drives older QEMU without -blockdev, "
                    + "which kvmsnap's block copy and live merges need",
                hint: "upgrade QEMU (Debian 12 ships 7.2)")
        }
        if version < testedQEMU {
            return DoctorCheck(
                "qemu", .warn, "QEMU \(version): older than \(testedQEMU), the version kvmsnap is tested with",
                hint: "upgrade QEMU to be on the tested path")
        }
        return DoctorCheck("qemu", .ok, "QEMU \(version)")
    }

    static func security(_ facts: HostFacts) -> [DoctorCheck] {
        let models = facts.capabilities?.securityModels ?? []
        let appArmor: DoctorCheck
        switch facts.appArmorEnabled?.trimmed {
        case nil, "N":
            appArmor = DoctorCheck("apparmor", .ok, facts.appArmorEnabled == nil ? "not in the kernel" : "disabled")
        case "Y" where facts.daemon == .reachable && !models.contains("apparmor"):
            appArmor = DoctorCheck(
                "apparmor", .warn, "enabled, but libvirt does not use it (security models: \(models.joined(separator: ", ")))",
                hint: "set security_driver in /etc/libvirt/qemu.conf, or make sure QEMU's own profile allows the store directory")
        case "Y":
            appArmor = DoctorCheck("apparmor", .ok, "enabled; libvirt gives each VM a profile listing its images (virt-aa-helper), kvmsnap's overlays included")
        case let other?:
            appArmor = DoctorCheck("apparmor", .warn, "unexpected state '\(other)'", hint: "cat /sys/module/apparmor/parameters/enabled")
        }
        let seLinux: DoctorCheck
        switch facts.seLinuxEnforce?.trimmed {
        case nil: seLinux = DoctorCheck("selinux", .ok, "not active")
        case "0": seLinux = DoctorCheck("selinux", .ok, "permissive")
        case "1":
            seLinux = DoctorCheck(
                "selinux", .warn, "enforcing: QEMU can read only images labelled for it (untested with kvmsnap)",
                hint: "label the store: semanage fcontext -a -t virt_image_t '\(facts.store.path)(/.*)?' && restorecon -R \(facts.store.path)")
        case let other?: seLinux = DoctorCheck("selinux", .warn, "unexpected state '\(other)'", hint: "cat /sys/fs/selinux/enforce")
        }
        return [appArmor, seLinux]
    }

    static func store(_ store: HostFacts.Store) -> [DoctorCheck] {
        let place = store.examinedPath == store.path ? store.path : "\(store.path) (not created yet; measured at \(store.examinedPath))"
        guard store.error == nil else {
            return [DoctorCheck("store", .fail, "cannot read \(place): \(store.error ?? "statvfs failed")", hint: "check --store / $KVMSNAP_STORE")]
        }
        let name = store.filesystemType ?? "unknown"
        let fs: DoctorCheck =
            switch name {
            case "ext4", "ext3", "xfs", "zfs", "f2fs":
                DoctorCheck("store", .ok, "\(place) on \(name)")
            case "btrfs":
                DoctorCheck(
                    "store", .warn, "\(place) on btrfs: qcow2 images on copy-on-write files fragment",
                    hint: "chattr +C \(store.path) while it is still empty (new files inherit no-CoW)")
            case "tmpfs", "ramfs":
                DoctorCheck(
                    "store", .fail, "\(place) on \(name): every snapshot is lost at reboot, and memory images fill RAM",
                    hint: "put the store on a disk: --store DIR or $KVMSNAP_STORE")
            case "squashfs", "iso9660":
                DoctorCheck("store", .fail, "\(place) on read-only \(name)", hint: "put the store on a writable disk")
            case _ where networkFilesystems.contains(name) || name.hasPrefix("fuse"):
                DoctorCheck(
                    "store", .warn,
                    "\(place) on \(name), a network or user-space file system: kvmsnap's locks (flock) and fsyncs are tested on local disks only",
                    hint: "prefer a local ext4 or xfs file system")
            default:
                DoctorCheck("store", .warn, "\(place) on \(name), a file system kvmsnap is not tested on", hint: "prefer ext4 or xfs")
            }
        let free = "\(byteText(store.freeBytes)) free of \(byteText(store.totalBytes))"
        let space: DoctorCheck
        if store.freeBytes < minimumFreeBytes {
            space = DoctorCheck("store-space", .fail, free, hint: "a memory image alone is about the guest's RAM: free space or prune (kvmsnap prune --all)")
        } else if store.freeBytes < comfortableFreeBytes || store.freeBytes < store.totalBytes / 10 {
            space = DoctorCheck(
                "store-space", .warn, free, hint: "snapshots with memory take about the guest's RAM each: prune (kvmsnap prune --all) or add space")
        } else {
            space = DoctorCheck("store-space", .ok, free)
        }
        return [fs, space]
    }

    static func qemuImg(_ tool: HostFacts.QemuImg) -> DoctorCheck {
        switch tool {
        case .missing:
            return DoctorCheck(
                "qemu-img", .fail, "not found on PATH",
                hint: "install qemu-utils (Debian) / qemu-img: flattening, offline merges and reverts need it")
        case .broken(let path, let error):
            return DoctorCheck("qemu-img", .fail, "\(path) --version failed: \(error)", hint: "reinstall qemu-utils")
        case .found(let path, let output):
            guard let version = SoftwareVersion(firstIn: output) else {
                return DoctorCheck("qemu-img", .warn, "\(path): unreadable version '\(output.split(separator: "\n").first ?? "")'", hint: "qemu-img --version")
            }
            return DoctorCheck("qemu-img", .ok, "\(path) \(version)")
        }
    }

    static func catalog(_ state: HostFacts.CatalogState) -> DoctorCheck {
        switch state {
        case .missing(let path):
            return DoctorCheck("catalog", .ok, "no catalog at \(path) yet (the first create makes one)")
        case .intact(let path):
            return DoctorCheck("catalog", .ok, "\(path): integrity check ok")
        case .damaged(let path, let problems):
            let shown = problems.prefix(3).joined(separator: "; ") + (problems.count > 3 ? "; … (\(problems.count) problems)" : "")
            return DoctorCheck(
                "catalog", .fail, "\(path): integrity check failed: \(shown)",
                hint: "stop kvmsnap's timers, copy the file aside, and restore it from a backup (sqlite3 CATALOG .recover salvages what it can)")
        case .unreadable(let path, let error):
            return DoctorCheck(
                "catalog", .fail, "\(path): \(error)",
                hint: "restore the catalog from a backup, or point --catalog / $KVMSNAP_CATALOG at the right file")
        }
    }

    /// `10.0 GiB`, as the commands print sizes.
    static func byteText(_ value: Int64) -> String {
        let units = ["B", "KiB", "MiB", "GiB", "TiB", "PiB"]
        var v = Double(value)
        var i = 0
        while v >= 1024 && i < units.count - 1 { v /= 1024; i += 1 }
        if i == 0 { return "\(value) B" }
        let tenths = Int((v * 10).rounded())
        return "\(tenths / 10).\(tenths % 10) \(units[i])"
    }
}

extension String {
    /// The first word: a /sys flag file holds e.g. "Y\n".
    fileprivate var trimmed: String { split(whereSeparator: \.isWhitespace).first.map(String.init) ?? "" }
}
