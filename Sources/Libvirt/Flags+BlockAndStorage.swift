// Flag sets for libvirt's block job and storage calls (see Flags.swift).

import Clibvirt

/// Flags for `virDomainBlockCommit`.
/// See also https://libvirt.org/html/libvirt-libvirt-domain.html#virDomainBlockCommitFlags
public struct BlockCommitFlags: OptionSet, Hashable, Sendable {
    public let rawValue: UInt32
    public init(rawValue: UInt32) { self.rawValue = rawValue }
    /// `VIR_DOMAIN_BLOCK_COMMIT_SHALLOW`
    public static let shallow = BlockCommitFlags(rawValue: UInt32(VIR_DOMAIN_BLOCK_COMMIT_SHALLOW.rawValue))
    /// `VIR_DOMAIN_BLOCK_COMMIT_DELETE`
    public static let delete = BlockCommitFlags(rawValue: UInt32(VIR_DOMAIN_BLOCK_COMMIT_DELETE.rawValue))
    /// `VIR_DOMAIN_BLOCK_COMMIT_ACTIVE`
    public static let active = BlockCommitFlags(rawValue: UInt32(VIR_DOMAIN_BLOCK_COMMIT_ACTIVE.rawValue))
    /// `VIR_DOMAIN_BLOCK_COMMIT_RELATIVE`
    public static let relative = BlockCommitFlags(rawValue: UInt32(VIR_DOMAIN_BLOCK_COMMIT_RELATIVE.rawValue))
    /// `VIR_DOMAIN_BLOCK_COMMIT_BANDWIDTH_BYTES`
    public static let bandwidthBytes = BlockCommitFlags(rawValue: UInt32(VIR_DOMAIN_BLOCK_COMMIT_BANDWIDTH_BYTES.rawValue))
}

/// Flags for `virDomainBlockPull`.
/// See also https://libvirt.org/html/libvirt-libvirt-domain.html#virDomainBlockPullFlags
public struct BlockPullFlags: OptionSet, Hashable, Sendable {
    public let rawValue: UInt32
    public init(rawValue: UInt32) { self.rawValue = rawValue }
    /// `VIR_DOMAIN_BLOCK_PULL_BANDWIDTH_BYTES`
    public static let bandwidthBytes = BlockPullFlags(rawValue: UInt32(VIR_DOMAIN_BLOCK_PULL_BANDWIDTH_BYTES.rawValue))
}

/// Flags for `virDomainBlockRebase`.
/// See also https://libvirt.org/html/libvirt-libvirt-domain.html#virDomainBlockRebaseFlags
public struct BlockRebaseFlags: OptionSet, Hashable, Sendable {
    public let rawValue: UInt32
    public init(rawValue: UInt32) { self.rawValue = rawValue }
    /// `VIR_DOMAIN_BLOCK_REBASE_SHALLOW`
    public static let shallow = BlockRebaseFlags(rawValue: UInt32(VIR_DOMAIN_BLOCK_REBASE_SHALLOW.rawValue))
    /// `VIR_DOMAIN_BLOCK_REBASE_REUSE_EXT`
    public static let reuseExternal = BlockRebaseFlags(rawValue: UInt32(VIR_DOMAIN_BLOCK_REBASE_REUSE_EXT.rawValue))
    /// `VIR_DOMAIN_BLOCK_REBASE_COPY_RAW`
    public static let copyRaw = BlockRebaseFlags(rawValue: UInt32(VIR_DOMAIN_BLOCK_REBASE_COPY_RAW.rawValue))
    /// `VIR_DOMAIN_BLOCK_REBASE_COPY`
    public static let copy = BlockRebaseFlags(rawValue: UInt32(VIR_DOMAIN_BLOCK_REBASE_COPY.rawValue))
    /// `VIR_DOMAIN_BLOCK_REBASE_RELATIVE`
    public static let relative = BlockRebaseFlags(rawValue: UInt32(VIR_DOMAIN_BLOCK_REBASE_RELATIVE.rawValue))
    /// `VIR_DOMAIN_BLOCK_REBASE_COPY_DEV`
    public static let copyDevice = BlockRebaseFlags(rawValue: UInt32(VIR_DOMAIN_BLOCK_REBASE_COPY_DEV.rawValue))
    /// `VIR_DOMAIN_BLOCK_REBASE_BANDWIDTH_BYTES`
    public static let bandwidthBytes = BlockRebaseFlags(rawValue: UInt32(VIR_DOMAIN_BLOCK_REBASE_BANDWIDTH_BYTES.rawValue))
}

/// Flags for `virDomainBlockCopy`.
/// See also https://libvirt.org/html/libvirt-libvirt-domain.html#virDomainBlockCopyFlags
public struct BlockCopyFlags: OptionSet, Hashable, Sendable {
    public let rawValue: UInt32
    public init(rawValue: UInt32) { self.rawValue = rawValue }
    /// `VIR_DOMAIN_BLOCK_COPY_SHALLOW`
    public static let shallow = BlockCopyFlags(rawValue: UInt32(VIR_DOMAIN_BLOCK_COPY_SHALLOW.rawValue))
    /// `VIR_DOMAIN_BLOCK_COPY_REUSE_EXT`
    public static let reuseExternal = BlockCopyFlags(rawValue: UInt32(VIR_DOMAIN_BLOCK_COPY_REUSE_EXT.rawValue))
    /// `VIR_DOMAIN_BLOCK_COPY_TRANSIENT_JOB`
    public static let transientJob = BlockCopyFlags(rawValue: UInt32(VIR_DOMAIN_BLOCK_COPY_TRANSIENT_JOB.rawValue))
    /// `VIR_DOMAIN_BLOCK_COPY_SYNCHRONOUS_WRITES`
    public static let synchronousWrites = BlockCopyFlags(rawValue: UInt32(VIR_DOMAIN_BLOCK_COPY_SYNCHRONOUS_WRITES.rawValue))
}

/// Flags for `virDomainBlockJobAbort`.
/// See also https://libvirt.org/html/libvirt-libvirt-domain.html#virDomainBlockJobAbortFlags
public struct BlockJobAbortFlags: OptionSet, Hashable, Sendable {
    public let rawValue: UInt32
    public init(rawValue: UInt32) { self.rawValue = rawValue }
    /// `VIR_DOMAIN_BLOCK_JOB_ABORT_ASYNC`
    public static let async = BlockJobAbortFlags(rawValue: UInt32(VIR_DOMAIN_BLOCK_JOB_ABORT_ASYNC.rawValue))
    /// `VIR_DOMAIN_BLOCK_JOB_ABORT_PIVOT`
    public static let pivot = BlockJobAbortFlags(rawValue: UInt32(VIR_DOMAIN_BLOCK_JOB_ABORT_PIVOT.rawValue))
}

/// Flags for `virDomainGetBlockJobInfo`.
/// See also https://libvirt.org/html/libvirt-libvirt-domain.html#virDomainBlockJobInfoFlags
public struct BlockJobInfoFlags: OptionSet, Hashable, Sendable {
    public let rawValue: UInt32
    public init(rawValue: UInt32) { self.rawValue = rawValue }
    /// `VIR_DOMAIN_BLOCK_JOB_INFO_BANDWIDTH_BYTES`
    public static let bandwidthBytes = BlockJobInfoFlags(rawValue: UInt32(VIR_DOMAIN_BLOCK_JOB_INFO_BANDWIDTH_BYTES.rawValue))
}

/// Flags for `virStoragePoolBuild`.
/// See also https://libvirt.org/html/libvirt-libvirt-storage.html#virStoragePoolBuildFlags
public struct StoragePoolBuildFlags: OptionSet, Hashable, Sendable {
    public let rawValue: UInt32
    public init(rawValue: UInt32) { self.rawValue = rawValue }
    /// `VIR_STORAGE_POOL_BUILD_REPAIR`
    public static let repair = StoragePoolBuildFlags(rawValue: UInt32(VIR_STORAGE_POOL_BUILD_REPAIR.rawValue))
    /// `VIR_STORAGE_POOL_BUILD_RESIZE`
    public static let resize = StoragePoolBuildFlags(rawValue: UInt32(VIR_STORAGE_POOL_BUILD_RESIZE.rawValue))
    /// `VIR_STORAGE_POOL_BUILD_NO_OVERWRITE`
    public static let noOverwrite = StoragePoolBuildFlags(rawValue: UInt32(VIR_STORAGE_POOL_BUILD_NO_OVERWRITE.rawValue))
    /// `VIR_STORAGE_POOL_BUILD_OVERWRITE`
    public static let overwrite = StoragePoolBuildFlags(rawValue: UInt32(VIR_STORAGE_POOL_BUILD_OVERWRITE.rawValue))
}

/// Flags for `virStoragePoolCreate`.
/// See also https://libvirt.org/html/libvirt-libvirt-storage.html#virStoragePoolCreateFlags
public struct StoragePoolCreateFlags: OptionSet, Hashable, Sendable {
    public let rawValue: UInt32
    public init(rawValue: UInt32) { self.rawValue = rawValue }
    /// `VIR_STORAGE_POOL_CREATE_WITH_BUILD`
    public static let withBuild = StoragePoolCreateFlags(rawValue: UInt32(VIR_STORAGE_POOL_CREATE_WITH_BUILD.rawValue))
    /// `VIR_STORAGE_POOL_CREATE_WITH_BUILD_OVERWRITE`
    public static let withBuildOverwrite = StoragePoolCreateFlags(rawValue: UInt32(VIR_STORAGE_POOL_CREATE_WITH_BUILD_OVERWRITE.rawValue))
    /// `VIR_STORAGE_POOL_CREATE_WITH_BUILD_NO_OVERWRITE`
    public static let withBuildNoOverwrite = StoragePoolCreateFlags(rawValue: UInt32(VIR_STORAGE_POOL_CREATE_WITH_BUILD_NO_OVERWRITE.rawValue))
}

/// Flags for `virStorageVolCreateXML / virStorageVolCreateXMLFrom`.
/// See also https://libvirt.org/html/libvirt-libvirt-storage.html#virStorageVolCreateFlags
public struct StorageVolumeCreateFlags: OptionSet, Hashable, Sendable {
    public let rawValue: UInt32
    public init(rawValue: UInt32) { self.rawValue = rawValue }
    /// `VIR_STORAGE_VOL_CREATE_PREALLOC_METADATA`
    public static let preallocMetadata = StorageVolumeCreateFlags(rawValue: UInt32(VIR_STORAGE_VOL_CREATE_PREALLOC_METADATA.rawValue))
    /// `VIR_STORAGE_VOL_CREATE_REFLINK`
    public static let reflink = StorageVolumeCreateFlags(rawValue: UInt32(VIR_STORAGE_VOL_CREATE_REFLINK.rawValue))
    /// `VIR_STORAGE_VOL_CREATE_VALIDATE`
    public static let validate = StorageVolumeCreateFlags(rawValue: UInt32(VIR_STORAGE_VOL_CREATE_VALIDATE.rawValue))
}

/// Flags for `virStorageVolDelete`.
/// See also https://libvirt.org/html/libvirt-libvirt-storage.html#virStorageVolDeleteFlags
public struct StorageVolumeDeleteFlags: OptionSet, Hashable, Sendable {
    public let rawValue: UInt32
    public init(rawValue: UInt32) { self.rawValue = rawValue }
    /// `VIR_STORAGE_VOL_DELETE_ZEROED`
    public static let zeroed = StorageVolumeDeleteFlags(rawValue: UInt32(VIR_STORAGE_VOL_DELETE_ZEROED.rawValue))
    /// `VIR_STORAGE_VOL_DELETE_WITH_SNAPSHOTS`
    public static let withSnapshots = StorageVolumeDeleteFlags(rawValue: UInt32(VIR_STORAGE_VOL_DELETE_WITH_SNAPSHOTS.rawValue))
}
