// Flag sets for libvirt calls. Each raw value is read from libvirt's C enum,
// so the bits always match the installed headers.

import Clibvirt

/// Flags for `virDomainCreateWithFlags / virDomainCreateXML`.
/// See also https://libvirt.org/html/libvirt-libvirt-domain.html#virDomainCreateFlags
public struct DomainCreateFlags: OptionSet, Hashable, Sendable {
    public let rawValue: UInt32
    public init(rawValue: UInt32) { self.rawValue = rawValue }
    /// `VIR_DOMAIN_START_PAUSED`
    public static let paused = DomainCreateFlags(rawValue: UInt32(VIR_DOMAIN_START_PAUSED.rawValue))
    /// `VIR_DOMAIN_START_AUTODESTROY`
    public static let autoDestroy = DomainCreateFlags(rawValue: UInt32(VIR_DOMAIN_START_AUTODESTROY.rawValue))
    /// `VIR_DOMAIN_START_BYPASS_CACHE`
    public static let bypassCache = DomainCreateFlags(rawValue: UInt32(VIR_DOMAIN_START_BYPASS_CACHE.rawValue))
    /// `VIR_DOMAIN_START_FORCE_BOOT`
    public static let forceBoot = DomainCreateFlags(rawValue: UInt32(VIR_DOMAIN_START_FORCE_BOOT.rawValue))
    /// `VIR_DOMAIN_START_VALIDATE`
    public static let validate = DomainCreateFlags(rawValue: UInt32(VIR_DOMAIN_START_VALIDATE.rawValue))
    /// `VIR_DOMAIN_START_RESET_NVRAM`
    public static let resetNVRAM = DomainCreateFlags(rawValue: UInt32(VIR_DOMAIN_START_RESET_NVRAM.rawValue))
}

/// Flags for `virDomainDefineXMLFlags`.
/// See also https://libvirt.org/html/libvirt-libvirt-domain.html#virDomainDefineFlags
public struct DomainDefineFlags: OptionSet, Hashable, Sendable {
    public let rawValue: UInt32
    public init(rawValue: UInt32) { self.rawValue = rawValue }
    /// `VIR_DOMAIN_DEFINE_VALIDATE`
    public static let validate = DomainDefineFlags(rawValue: UInt32(VIR_DOMAIN_DEFINE_VALIDATE.rawValue))
}

/// Flags for `virDomainUndefineFlags`.
/// See also https://libvirt.org/html/libvirt-libvirt-domain.html#virDomainUndefineFlagsValues
public struct DomainUndefineFlags: OptionSet, Hashable, Sendable {
    public let rawValue: UInt32
    public init(rawValue: UInt32) { self.rawValue = rawValue }
    /// `VIR_DOMAIN_UNDEFINE_MANAGED_SAVE`
    public static let managedSave = DomainUndefineFlags(rawValue: UInt32(VIR_DOMAIN_UNDEFINE_MANAGED_SAVE.rawValue))
    /// `VIR_DOMAIN_UNDEFINE_SNAPSHOTS_METADATA`
    public static let snapshotsMetadata = DomainUndefineFlags(rawValue: UInt32(VIR_DOMAIN_UNDEFINE_SNAPSHOTS_METADATA.rawValue))
    /// `VIR_DOMAIN_UNDEFINE_NVRAM`
    public static let nvram = DomainUndefineFlags(rawValue: UInt32(VIR_DOMAIN_UNDEFINE_NVRAM.rawValue))
    /// `VIR_DOMAIN_UNDEFINE_KEEP_NVRAM`
    public static let keepNVRAM = DomainUndefineFlags(rawValue: UInt32(VIR_DOMAIN_UNDEFINE_KEEP_NVRAM.rawValue))
    /// `VIR_DOMAIN_UNDEFINE_CHECKPOINTS_METADATA`
    public static let checkpointsMetadata = DomainUndefineFlags(rawValue: UInt32(VIR_DOMAIN_UNDEFINE_CHECKPOINTS_METADATA.rawValue))
    /// `VIR_DOMAIN_UNDEFINE_TPM`
    public static let tpm = DomainUndefineFlags(rawValue: UInt32(VIR_DOMAIN_UNDEFINE_TPM.rawValue))
    /// `VIR_DOMAIN_UNDEFINE_KEEP_TPM`
    public static let keepTPM = DomainUndefineFlags(rawValue: UInt32(VIR_DOMAIN_UNDEFINE_KEEP_TPM.rawValue))
}

/// Flags for `virDomainDestroyFlags`.
/// See also https://libvirt.org/html/libvirt-libvirt-domain.html#virDomainDestroyFlagsValues
public struct DomainDestroyFlags: OptionSet, Hashable, Sendable {
    public let rawValue: UInt32
    public init(rawValue: UInt32) { self.rawValue = rawValue }
    /// `VIR_DOMAIN_DESTROY_GRACEFUL`
    public static let graceful = DomainDestroyFlags(rawValue: UInt32(VIR_DOMAIN_DESTROY_GRACEFUL.rawValue))
    /// `VIR_DOMAIN_DESTROY_REMOVE_LOGS`
    public static let removeLogs = DomainDestroyFlags(rawValue: UInt32(VIR_DOMAIN_DESTROY_REMOVE_LOGS.rawValue))
}

/// Flags for `virDomainShutdownFlags`.
/// See also https://libvirt.org/html/libvirt-libvirt-domain.html#virDomainShutdownFlagValues
public struct DomainShutdownFlags: OptionSet, Hashable, Sendable {
    public let rawValue: UInt32
    public init(rawValue: UInt32) { self.rawValue = rawValue }
    /// `VIR_DOMAIN_SHUTDOWN_ACPI_POWER_BTN`
    public static let acpiPowerButton = DomainShutdownFlags(rawValue: UInt32(VIR_DOMAIN_SHUTDOWN_ACPI_POWER_BTN.rawValue))
    /// `VIR_DOMAIN_SHUTDOWN_GUEST_AGENT`
    public static let guestAgent = DomainShutdownFlags(rawValue: UInt32(VIR_DOMAIN_SHUTDOWN_GUEST_AGENT.rawValue))
    /// `VIR_DOMAIN_SHUTDOWN_INITCTL`
    public static let initctl = DomainShutdownFlags(rawValue: UInt32(VIR_DOMAIN_SHUTDOWN_INITCTL.rawValue))
    /// `VIR_DOMAIN_SHUTDOWN_SIGNAL`
    public static let signal = DomainShutdownFlags(rawValue: UInt32(VIR_DOMAIN_SHUTDOWN_SIGNAL.rawValue))
    /// `VIR_DOMAIN_SHUTDOWN_PARAVIRT`
    public static let paravirt = DomainShutdownFlags(rawValue: UInt32(VIR_DOMAIN_SHUTDOWN_PARAVIRT.rawValue))
}

/// Flags for `virDomainGetXMLDesc / virDomainSaveImageGetXMLDesc`.
/// See also https://libvirt.org/html/libvirt-libvirt-domain.html#virDomainXMLFlags
public struct DomainXMLFlags: OptionSet, Hashable, Sendable {
    public let rawValue: UInt32
    public init(rawValue: UInt32) { self.rawValue = rawValue }
    /// `VIR_DOMAIN_XML_SECURE`
    public static let secure = DomainXMLFlags(rawValue: UInt32(VIR_DOMAIN_XML_SECURE.rawValue))
    /// `VIR_DOMAIN_XML_INACTIVE`
    public static let inactive = DomainXMLFlags(rawValue: UInt32(VIR_DOMAIN_XML_INACTIVE.rawValue))
    /// `VIR_DOMAIN_XML_UPDATE_CPU`
    public static let updateCPU = DomainXMLFlags(rawValue: UInt32(VIR_DOMAIN_XML_UPDATE_CPU.rawValue))
    /// `VIR_DOMAIN_XML_MIGRATABLE`
    public static let migratable = DomainXMLFlags(rawValue: UInt32(VIR_DOMAIN_XML_MIGRATABLE.rawValue))
}

/// Flags for `virDomainSaveFlags / virDomainSaveImageDefineXML`.
/// See also https://libvirt.org/html/libvirt-libvirt-domain.html#virDomainSaveRestoreFlags
public struct DomainSaveFlags: OptionSet, Hashable, Sendable {
    public let rawValue: UInt32
    public init(rawValue: UInt32) { self.rawValue = rawValue }
    /// `VIR_DOMAIN_SAVE_BYPASS_CACHE`
    public static let bypassCache = DomainSaveFlags(rawValue: UInt32(VIR_DOMAIN_SAVE_BYPASS_CACHE.rawValue))
    /// `VIR_DOMAIN_SAVE_RUNNING`
    public static let running = DomainSaveFlags(rawValue: UInt32(VIR_DOMAIN_SAVE_RUNNING.rawValue))
    /// `VIR_DOMAIN_SAVE_PAUSED`
    public static let paused = DomainSaveFlags(rawValue: UInt32(VIR_DOMAIN_SAVE_PAUSED.rawValue))
}

/// Flags for `virDomainRestoreFlags`.
/// See also https://libvirt.org/html/libvirt-libvirt-domain.html#virDomainSaveRestoreFlags
public struct DomainRestoreFlags: OptionSet, Hashable, Sendable {
    public let rawValue: UInt32
    public init(rawValue: UInt32) { self.rawValue = rawValue }
    /// `VIR_DOMAIN_SAVE_BYPASS_CACHE`
    public static let bypassCache = DomainRestoreFlags(rawValue: UInt32(VIR_DOMAIN_SAVE_BYPASS_CACHE.rawValue))
    /// `VIR_DOMAIN_SAVE_RUNNING`
    public static let running = DomainRestoreFlags(rawValue: UInt32(VIR_DOMAIN_SAVE_RUNNING.rawValue))
    /// `VIR_DOMAIN_SAVE_PAUSED`
    public static let paused = DomainRestoreFlags(rawValue: UInt32(VIR_DOMAIN_SAVE_PAUSED.rawValue))
    /// `VIR_DOMAIN_SAVE_RESET_NVRAM`
    public static let resetNVRAM = DomainRestoreFlags(rawValue: UInt32(VIR_DOMAIN_SAVE_RESET_NVRAM.rawValue))
}

/// Flags for `virDomainGetJobStats`.
/// See also https://libvirt.org/html/libvirt-libvirt-domain.html#virDomainGetJobStatsFlags
public struct DomainJobStatsFlags: OptionSet, Hashable, Sendable {
    public let rawValue: UInt32
    public init(rawValue: UInt32) { self.rawValue = rawValue }
    /// `VIR_DOMAIN_JOB_STATS_COMPLETED`
    public static let completed = DomainJobStatsFlags(rawValue: UInt32(VIR_DOMAIN_JOB_STATS_COMPLETED.rawValue))
    /// `VIR_DOMAIN_JOB_STATS_KEEP_COMPLETED`
    public static let keepCompleted = DomainJobStatsFlags(rawValue: UInt32(VIR_DOMAIN_JOB_STATS_KEEP_COMPLETED.rawValue))
}

/// Flags for `virConnectListAllDomains`.
/// See also https://libvirt.org/html/libvirt-libvirt-domain.html#virConnectListAllDomainsFlags
public struct ConnectListAllDomainsFlags: OptionSet, Hashable, Sendable {
    public let rawValue: UInt32
    public init(rawValue: UInt32) { self.rawValue = rawValue }
    /// `VIR_CONNECT_LIST_DOMAINS_ACTIVE`
    public static let active = ConnectListAllDomainsFlags(rawValue: UInt32(VIR_CONNECT_LIST_DOMAINS_ACTIVE.rawValue))
    /// `VIR_CONNECT_LIST_DOMAINS_INACTIVE`
    public static let inactive = ConnectListAllDomainsFlags(rawValue: UInt32(VIR_CONNECT_LIST_DOMAINS_INACTIVE.rawValue))
    /// `VIR_CONNECT_LIST_DOMAINS_PERSISTENT`
    public static let persistent = ConnectListAllDomainsFlags(rawValue: UInt32(VIR_CONNECT_LIST_DOMAINS_PERSISTENT.rawValue))
    /// `VIR_CONNECT_LIST_DOMAINS_TRANSIENT`
    public static let transient = ConnectListAllDomainsFlags(rawValue: UInt32(VIR_CONNECT_LIST_DOMAINS_TRANSIENT.rawValue))
    /// `VIR_CONNECT_LIST_DOMAINS_RUNNING`
    public static let running = ConnectListAllDomainsFlags(rawValue: UInt32(VIR_CONNECT_LIST_DOMAINS_RUNNING.rawValue))
    /// `VIR_CONNECT_LIST_DOMAINS_PAUSED`
    public static let paused = ConnectListAllDomainsFlags(rawValue: UInt32(VIR_CONNECT_LIST_DOMAINS_PAUSED.rawValue))
    /// `VIR_CONNECT_LIST_DOMAINS_SHUTOFF`
    public static let shutoff = ConnectListAllDomainsFlags(rawValue: UInt32(VIR_CONNECT_LIST_DOMAINS_SHUTOFF.rawValue))
    /// `VIR_CONNECT_LIST_DOMAINS_OTHER`
    public static let other = ConnectListAllDomainsFlags(rawValue: UInt32(VIR_CONNECT_LIST_DOMAINS_OTHER.rawValue))
    /// `VIR_CONNECT_LIST_DOMAINS_MANAGEDSAVE`
    public static let managedSave = ConnectListAllDomainsFlags(rawValue: UInt32(VIR_CONNECT_LIST_DOMAINS_MANAGEDSAVE.rawValue))
    /// `VIR_CONNECT_LIST_DOMAINS_NO_MANAGEDSAVE`
    public static let noManagedSave = ConnectListAllDomainsFlags(rawValue: UInt32(VIR_CONNECT_LIST_DOMAINS_NO_MANAGEDSAVE.rawValue))
    /// `VIR_CONNECT_LIST_DOMAINS_AUTOSTART`
    public static let autostart = ConnectListAllDomainsFlags(rawValue: UInt32(VIR_CONNECT_LIST_DOMAINS_AUTOSTART.rawValue))
    /// `VIR_CONNECT_LIST_DOMAINS_NO_AUTOSTART`
    public static let noAutostart = ConnectListAllDomainsFlags(rawValue: UInt32(VIR_CONNECT_LIST_DOMAINS_NO_AUTOSTART.rawValue))
    /// `VIR_CONNECT_LIST_DOMAINS_HAS_SNAPSHOT`
    public static let hasSnapshot = ConnectListAllDomainsFlags(rawValue: UInt32(VIR_CONNECT_LIST_DOMAINS_HAS_SNAPSHOT.rawValue))
    /// `VIR_CONNECT_LIST_DOMAINS_NO_SNAPSHOT`
    public static let noSnapshot = ConnectListAllDomainsFlags(rawValue: UInt32(VIR_CONNECT_LIST_DOMAINS_NO_SNAPSHOT.rawValue))
    /// `VIR_CONNECT_LIST_DOMAINS_HAS_CHECKPOINT`
    public static let hasCheckpoint = ConnectListAllDomainsFlags(rawValue: UInt32(VIR_CONNECT_LIST_DOMAINS_HAS_CHECKPOINT.rawValue))
    /// `VIR_CONNECT_LIST_DOMAINS_NO_CHECKPOINT`
    public static let noCheckpoint = ConnectListAllDomainsFlags(rawValue: UInt32(VIR_CONNECT_LIST_DOMAINS_NO_CHECKPOINT.rawValue))
}

/// Flags for `virDomainSnapshotCreateXML`.
/// See also https://libvirt.org/html/libvirt-libvirt-domain-snapshot.html#virDomainSnapshotCreateFlags
public struct DomainSnapshotCreateFlags: OptionSet, Hashable, Sendable {
    public let rawValue: UInt32
    public init(rawValue: UInt32) { self.rawValue = rawValue }
    /// `VIR_DOMAIN_SNAPSHOT_CREATE_REDEFINE`
    public static let redefine = DomainSnapshotCreateFlags(rawValue: UInt32(VIR_DOMAIN_SNAPSHOT_CREATE_REDEFINE.rawValue))
    /// `VIR_DOMAIN_SNAPSHOT_CREATE_CURRENT`
    public static let current = DomainSnapshotCreateFlags(rawValue: UInt32(VIR_DOMAIN_SNAPSHOT_CREATE_CURRENT.rawValue))
    /// `VIR_DOMAIN_SNAPSHOT_CREATE_NO_METADATA`
    public static let noMetadata = DomainSnapshotCreateFlags(rawValue: UInt32(VIR_DOMAIN_SNAPSHOT_CREATE_NO_METADATA.rawValue))
    /// `VIR_DOMAIN_SNAPSHOT_CREATE_HALT`
    public static let halt = DomainSnapshotCreateFlags(rawValue: UInt32(VIR_DOMAIN_SNAPSHOT_CREATE_HALT.rawValue))
    /// `VIR_DOMAIN_SNAPSHOT_CREATE_DISK_ONLY`
    public static let diskOnly = DomainSnapshotCreateFlags(rawValue: UInt32(VIR_DOMAIN_SNAPSHOT_CREATE_DISK_ONLY.rawValue))
    /// `VIR_DOMAIN_SNAPSHOT_CREATE_REUSE_EXT`
    public static let reuseExternal = DomainSnapshotCreateFlags(rawValue: UInt32(VIR_DOMAIN_SNAPSHOT_CREATE_REUSE_EXT.rawValue))
    /// `VIR_DOMAIN_SNAPSHOT_CREATE_QUIESCE`
    public static let quiesce = DomainSnapshotCreateFlags(rawValue: UInt32(VIR_DOMAIN_SNAPSHOT_CREATE_QUIESCE.rawValue))
    /// `VIR_DOMAIN_SNAPSHOT_CREATE_ATOMIC`
    public static let atomic = DomainSnapshotCreateFlags(rawValue: UInt32(VIR_DOMAIN_SNAPSHOT_CREATE_ATOMIC.rawValue))
    /// `VIR_DOMAIN_SNAPSHOT_CREATE_LIVE`
    public static let live = DomainSnapshotCreateFlags(rawValue: UInt32(VIR_DOMAIN_SNAPSHOT_CREATE_LIVE.rawValue))
    /// `VIR_DOMAIN_SNAPSHOT_CREATE_VALIDATE`
    public static let validate = DomainSnapshotCreateFlags(rawValue: UInt32(VIR_DOMAIN_SNAPSHOT_CREATE_VALIDATE.rawValue))
}

/// Flags for `virDomainSnapshotGetXMLDesc`.
/// See also https://libvirt.org/html/libvirt-libvirt-domain-snapshot.html#virDomainSnapshotXMLFlags
public struct DomainSnapshotXMLFlags: OptionSet, Hashable, Sendable {
    public let rawValue: UInt32
    public init(rawValue: UInt32) { self.rawValue = rawValue }
    /// `VIR_DOMAIN_SNAPSHOT_XML_SECURE`
    public static let secure = DomainSnapshotXMLFlags(rawValue: UInt32(VIR_DOMAIN_SNAPSHOT_XML_SECURE.rawValue))
}

/// Flags for `virDomainListAllSnapshots / virDomainSnapshotNum / virDomainSnapshotListAllChildren`.
/// See also https://libvirt.org/html/libvirt-libvirt-domain-snapshot.html#virDomainSnapshotListFlags
public struct DomainSnapshotListFlags: OptionSet, Hashable, Sendable {
    public let rawValue: UInt32
    public init(rawValue: UInt32) { self.rawValue = rawValue }
    /// `VIR_DOMAIN_SNAPSHOT_LIST_ROOTS`
    public static let roots = DomainSnapshotListFlags(rawValue: UInt32(VIR_DOMAIN_SNAPSHOT_LIST_ROOTS.rawValue))
    /// `VIR_DOMAIN_SNAPSHOT_LIST_DESCENDANTS`
    public static let descendants = DomainSnapshotListFlags(rawValue: UInt32(VIR_DOMAIN_SNAPSHOT_LIST_DESCENDANTS.rawValue))
    /// `VIR_DOMAIN_SNAPSHOT_LIST_LEAVES`
    public static let leaves = DomainSnapshotListFlags(rawValue: UInt32(VIR_DOMAIN_SNAPSHOT_LIST_LEAVES.rawValue))
    /// `VIR_DOMAIN_SNAPSHOT_LIST_NO_LEAVES`
    public static let noLeaves = DomainSnapshotListFlags(rawValue: UInt32(VIR_DOMAIN_SNAPSHOT_LIST_NO_LEAVES.rawValue))
    /// `VIR_DOMAIN_SNAPSHOT_LIST_METADATA`
    public static let metadata = DomainSnapshotListFlags(rawValue: UInt32(VIR_DOMAIN_SNAPSHOT_LIST_METADATA.rawValue))
    /// `VIR_DOMAIN_SNAPSHOT_LIST_NO_METADATA`
    public static let noMetadata = DomainSnapshotListFlags(rawValue: UInt32(VIR_DOMAIN_SNAPSHOT_LIST_NO_METADATA.rawValue))
    /// `VIR_DOMAIN_SNAPSHOT_LIST_INACTIVE`
    public static let inactive = DomainSnapshotListFlags(rawValue: UInt32(VIR_DOMAIN_SNAPSHOT_LIST_INACTIVE.rawValue))
    /// `VIR_DOMAIN_SNAPSHOT_LIST_ACTIVE`
    public static let active = DomainSnapshotListFlags(rawValue: UInt32(VIR_DOMAIN_SNAPSHOT_LIST_ACTIVE.rawValue))
    /// `VIR_DOMAIN_SNAPSHOT_LIST_DISK_ONLY`
    public static let diskOnly = DomainSnapshotListFlags(rawValue: UInt32(VIR_DOMAIN_SNAPSHOT_LIST_DISK_ONLY.rawValue))
    /// `VIR_DOMAIN_SNAPSHOT_LIST_INTERNAL`
    public static let `internal` = DomainSnapshotListFlags(rawValue: UInt32(VIR_DOMAIN_SNAPSHOT_LIST_INTERNAL.rawValue))
    /// `VIR_DOMAIN_SNAPSHOT_LIST_EXTERNAL`
    public static let external = DomainSnapshotListFlags(rawValue: UInt32(VIR_DOMAIN_SNAPSHOT_LIST_EXTERNAL.rawValue))
    /// `VIR_DOMAIN_SNAPSHOT_LIST_TOPOLOGICAL`
    public static let topological = DomainSnapshotListFlags(rawValue: UInt32(VIR_DOMAIN_SNAPSHOT_LIST_TOPOLOGICAL.rawValue))
}

/// Flags for `virDomainRevertToSnapshot`.
/// See also https://libvirt.org/html/libvirt-libvirt-domain-snapshot.html#virDomainSnapshotRevertFlags
public struct DomainSnapshotRevertFlags: OptionSet, Hashable, Sendable {
    public let rawValue: UInt32
    public init(rawValue: UInt32) { self.rawValue = rawValue }
    /// `VIR_DOMAIN_SNAPSHOT_REVERT_RUNNING`
    public static let running = DomainSnapshotRevertFlags(rawValue: UInt32(VIR_DOMAIN_SNAPSHOT_REVERT_RUNNING.rawValue))
    /// `VIR_DOMAIN_SNAPSHOT_REVERT_PAUSED`
    public static let paused = DomainSnapshotRevertFlags(rawValue: UInt32(VIR_DOMAIN_SNAPSHOT_REVERT_PAUSED.rawValue))
    /// `VIR_DOMAIN_SNAPSHOT_REVERT_FORCE`
    public static let force = DomainSnapshotRevertFlags(rawValue: UInt32(VIR_DOMAIN_SNAPSHOT_REVERT_FORCE.rawValue))
    /// `VIR_DOMAIN_SNAPSHOT_REVERT_RESET_NVRAM`
    public static let resetNVRAM = DomainSnapshotRevertFlags(rawValue: UInt32(VIR_DOMAIN_SNAPSHOT_REVERT_RESET_NVRAM.rawValue))
}

/// Flags for `virDomainSnapshotDelete`.
/// See also https://libvirt.org/html/libvirt-libvirt-domain-snapshot.html#virDomainSnapshotDeleteFlags
public struct DomainSnapshotDeleteFlags: OptionSet, Hashable, Sendable {
    public let rawValue: UInt32
    public init(rawValue: UInt32) { self.rawValue = rawValue }
    /// `VIR_DOMAIN_SNAPSHOT_DELETE_CHILDREN`
    public static let children = DomainSnapshotDeleteFlags(rawValue: UInt32(VIR_DOMAIN_SNAPSHOT_DELETE_CHILDREN.rawValue))
    /// `VIR_DOMAIN_SNAPSHOT_DELETE_METADATA_ONLY`
    public static let metadataOnly = DomainSnapshotDeleteFlags(rawValue: UInt32(VIR_DOMAIN_SNAPSHOT_DELETE_METADATA_ONLY.rawValue))
    /// `VIR_DOMAIN_SNAPSHOT_DELETE_CHILDREN_ONLY`
    public static let childrenOnly = DomainSnapshotDeleteFlags(rawValue: UInt32(VIR_DOMAIN_SNAPSHOT_DELETE_CHILDREN_ONLY.rawValue))
}

/// Flags for `virDomainCheckpointCreateXML`.
/// See also https://libvirt.org/html/libvirt-libvirt-domain-checkpoint.html#virDomainCheckpointCreateFlags
public struct DomainCheckpointCreateFlags: OptionSet, Hashable, Sendable {
    public let rawValue: UInt32
    public init(rawValue: UInt32) { self.rawValue = rawValue }
    /// `VIR_DOMAIN_CHECKPOINT_CREATE_REDEFINE`
    public static let redefine = DomainCheckpointCreateFlags(rawValue: UInt32(VIR_DOMAIN_CHECKPOINT_CREATE_REDEFINE.rawValue))
    /// `VIR_DOMAIN_CHECKPOINT_CREATE_QUIESCE`
    public static let quiesce = DomainCheckpointCreateFlags(rawValue: UInt32(VIR_DOMAIN_CHECKPOINT_CREATE_QUIESCE.rawValue))
    /// `VIR_DOMAIN_CHECKPOINT_CREATE_REDEFINE_VALIDATE`
    public static let redefineValidate = DomainCheckpointCreateFlags(rawValue: UInt32(VIR_DOMAIN_CHECKPOINT_CREATE_REDEFINE_VALIDATE.rawValue))
}

/// Flags for `virDomainCheckpointGetXMLDesc`.
/// See also https://libvirt.org/html/libvirt-libvirt-domain-checkpoint.html#virDomainCheckpointXMLFlags
public struct DomainCheckpointXMLFlags: OptionSet, Hashable, Sendable {
    public let rawValue: UInt32
    public init(rawValue: UInt32) { self.rawValue = rawValue }
    /// `VIR_DOMAIN_CHECKPOINT_XML_SECURE`
    public static let secure = DomainCheckpointXMLFlags(rawValue: UInt32(VIR_DOMAIN_CHECKPOINT_XML_SECURE.rawValue))
    /// `VIR_DOMAIN_CHECKPOINT_XML_NO_DOMAIN`
    public static let noDomain = DomainCheckpointXMLFlags(rawValue: UInt32(VIR_DOMAIN_CHECKPOINT_XML_NO_DOMAIN.rawValue))
    /// `VIR_DOMAIN_CHECKPOINT_XML_SIZE`
    public static let size = DomainCheckpointXMLFlags(rawValue: UInt32(VIR_DOMAIN_CHECKPOINT_XML_SIZE.rawValue))
}

/// Flags for `virDomainListAllCheckpoints`.
/// See also https://libvirt.org/html/libvirt-libvirt-domain-checkpoint.html#virDomainCheckpointListFlags
public struct DomainCheckpointListFlags: OptionSet, Hashable, Sendable {
    public let rawValue: UInt32
    public init(rawValue: UInt32) { self.rawValue = rawValue }
    /// `VIR_DOMAIN_CHECKPOINT_LIST_ROOTS`
    public static let roots = DomainCheckpointListFlags(rawValue: UInt32(VIR_DOMAIN_CHECKPOINT_LIST_ROOTS.rawValue))
    /// `VIR_DOMAIN_CHECKPOINT_LIST_DESCENDANTS`
    public static let descendants = DomainCheckpointListFlags(rawValue: UInt32(VIR_DOMAIN_CHECKPOINT_LIST_DESCENDANTS.rawValue))
    /// `VIR_DOMAIN_CHECKPOINT_LIST_TOPOLOGICAL`
    public static let topological = DomainCheckpointListFlags(rawValue: UInt32(VIR_DOMAIN_CHECKPOINT_LIST_TOPOLOGICAL.rawValue))
    /// `VIR_DOMAIN_CHECKPOINT_LIST_LEAVES`
    public static let leaves = DomainCheckpointListFlags(rawValue: UInt32(VIR_DOMAIN_CHECKPOINT_LIST_LEAVES.rawValue))
    /// `VIR_DOMAIN_CHECKPOINT_LIST_NO_LEAVES`
    public static let noLeaves = DomainCheckpointListFlags(rawValue: UInt32(VIR_DOMAIN_CHECKPOINT_LIST_NO_LEAVES.rawValue))
}

/// Flags for `virDomainCheckpointDelete`.
/// See also https://libvirt.org/html/libvirt-libvirt-domain-checkpoint.html#virDomainCheckpointDeleteFlags
public struct DomainCheckpointDeleteFlags: OptionSet, Hashable, Sendable {
    public let rawValue: UInt32
    public init(rawValue: UInt32) { self.rawValue = rawValue }
    /// `VIR_DOMAIN_CHECKPOINT_DELETE_CHILDREN`
    public static let children = DomainCheckpointDeleteFlags(rawValue: UInt32(VIR_DOMAIN_CHECKPOINT_DELETE_CHILDREN.rawValue))
    /// `VIR_DOMAIN_CHECKPOINT_DELETE_METADATA_ONLY`
    public static let metadataOnly = DomainCheckpointDeleteFlags(rawValue: UInt32(VIR_DOMAIN_CHECKPOINT_DELETE_METADATA_ONLY.rawValue))
    /// `VIR_DOMAIN_CHECKPOINT_DELETE_CHILDREN_ONLY`
    public static let childrenOnly = DomainCheckpointDeleteFlags(rawValue: UInt32(VIR_DOMAIN_CHECKPOINT_DELETE_CHILDREN_ONLY.rawValue))
}

/// Flags for `virDomainBackupBegin`.
/// See also https://libvirt.org/html/libvirt-libvirt-domain.html#virDomainBackupBeginFlags
public struct DomainBackupBeginFlags: OptionSet, Hashable, Sendable {
    public let rawValue: UInt32
    public init(rawValue: UInt32) { self.rawValue = rawValue }
    /// `VIR_DOMAIN_BACKUP_BEGIN_REUSE_EXTERNAL`
    public static let reuseExternal = DomainBackupBeginFlags(rawValue: UInt32(VIR_DOMAIN_BACKUP_BEGIN_REUSE_EXTERNAL.rawValue))
}
