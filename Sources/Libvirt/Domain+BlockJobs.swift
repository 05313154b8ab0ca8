import Clibvirt

/// The kind of a block job (`virDomainBlockJobType`).
/// See also https://libvirt.org/html/libvirt-libvirt-domain.html#virDomainBlockJobType
public enum BlockJobType: Int32, Sendable {
    case unknown = 0
    case pull = 1
    case copy = 2
    case commit = 3
    case activeCommit = 4
    case backup = 5
}

/// Progress of a block job (`virDomainBlockJobInfo`). `cur == end` means the
/// job is done, or for copy / active commit, ready to pivot.
/// See also https://libvirt.org/html/libvirt-libvirt-domain.html#virDomainBlockJobInfo
public struct BlockJobInfo: Sendable, Hashable {
    public var type: BlockJobType
    /// Bandwidth limit in MiB/s (bytes/s with `.bandwidthBytes`); 0 = unlimited.
    public var bandwidth: UInt
    public var cur: UInt64
    public var end: UInt64

    /// Whether the job has caught up (`cur == end`, with `end > 0`).
    public var isReady: Bool { end > 0 && cur == end }
}

/// Size facts of a disk (`virDomainBlockInfo`), in bytes.
/// See also https://libvirt.org/html/libvirt-libvirt-domain.html#virDomainBlockInfo
public struct BlockInfo: Sendable, Hashable {
    /// The size the guest sees.
    public var capacity: UInt64
    /// Host storage in use by the image.
    public var allocation: UInt64
    /// Host storage reserved for the image (file size or block device size).
    public var physical: UInt64
}

extension Domain {
    /// Starts a commit job merging `top` (nil = the active layer's backing file,
    /// or the active layer itself with `.active`) down into `base` (nil = the
    /// bottom of the chain). `disk` is a target name (`vda`) or a source path.
    /// See also https://libvirt.org/html/libvirt-libvirt-domain.html#virDomainBlockCommit
    public func blockCommit(
        disk: String, base: String? = nil, top: String? = nil, bandwidth: UInt = 0, flags: BlockCommitFlags = []
    ) throws(LibvirtError) {
        let status = withOptionalCString(base) { base in
            withOptionalCString(top) { top in
                virDomainBlockCommit(handle, disk, base, top, bandwidth, flags.rawValue)
            }
        }
        try check(status)
    }

    /// Starts a pull job copying all backing data into the active layer.
    /// See also https://libvirt.org/html/libvirt-libvirt-domain.html#virDomainBlockPull
    public func blockPull(disk: String, bandwidth: UInt = 0, flags: BlockPullFlags = []) throws(LibvirtError) {
        try check(virDomainBlockPull(handle, disk, bandwidth, flags.rawValue))
    }

    /// Starts a pull job that copies backing data down to `base` (nil = all),
    /// then makes `base` the active layer's backing file.
    /// See also https://libvirt.org/html/libvirt-libvirt-domain.html#virDomainBlockRebase
    public func blockRebase(
        disk: String, base: String? = nil, bandwidth: UInt = 0, flags: BlockRebaseFlags = []
    ) throws(LibvirtError) {
        let status = withOptionalCString(base) { base in
            virDomainBlockRebase(handle, disk, base, bandwidth, flags.rawValue)
        }
        try check(status)
    }

    /// Starts a copy job mirroring `disk` to the `<disk>` described by
    /// `destinationXML`. `parameters` take the `VIR_DOMAIN_BLOCK_COPY_*` names
    /// (`bandwidth`, `granularity`, `buf-size`).
    /// See also https://libvirt.org/html/libvirt-libvirt-domain.html#virDomainBlockCopy
    public func blockCopy(
        disk: String, destinationXML: String, parameters: [String: TypedParameterValue] = [:],
        flags: BlockCopyFlags = []
    ) throws(LibvirtError) {
        let status = try TypedParameters.withEncoded(parameters) { params, count in
            virDomainBlockCopy(handle, disk, destinationXML, params, count, flags.rawValue)
        }
        try check(status)
    }

    /// Cancels the disk's block job, or with `.pivot` switches the guest to
    /// the copy / committed image once the job is ready.
    /// See also https://libvirt.org/html/libvirt-libvirt-domain.html#virDomainBlockJobAbort
    public func blockJobAbort(disk: String, flags: BlockJobAbortFlags = []) throws(LibvirtError) {
        try check(virDomainBlockJobAbort(handle, disk, flags.rawValue))
    }

    /// Changes the bandwidth limit of the disk's running block job (MiB/s,
    /// 0 = unlimited). See also https://libvirt.org/html/libvirt-libvirt-domain.html#virDomainBlockJobSetSpeed
    public func blockJobSetSpeed(disk: String, bandwidth: UInt) throws(LibvirtError) {
        try check(virDomainBlockJobSetSpeed(handle, disk, bandwidth, 0))
    }

    /// The disk's block job, or nil when it has none.
    /// See also https://libvirt.org/html/libvirt-libvirt-domain.html#virDomainGetBlockJobInfo
    public func blockJobInfo(disk: String, flags: BlockJobInfoFlags = []) throws(LibvirtError) -> BlockJobInfo? {
        var info = virDomainBlockJobInfo()
        let status = try check(virDomainGetBlockJobInfo(handle, disk, &info, flags.rawValue))
        if status == 0 { return nil }
        return BlockJobInfo(
            type: BlockJobType(rawValue: info.type) ?? .unknown,
            bandwidth: info.bandwidth, cur: info.cur, end: info.end)
    }

    /// Polls the disk's block job until it is ready (`cur == end`) and returns
    /// its last info, or nil when the job ended (and vanished) meanwhile.
    /// Throws `.operationTimeout` (domain `.swiftWrapper`) after `timeout`.
    /// Blocks the calling thread.
    /// See also https://libvirt.org/html/libvirt-libvirt-domain.html#virDomainGetBlockJobInfo
    @discardableResult
    public func waitForBlockJob(
        disk: String, timeout: Duration, pollInterval: Duration = .milliseconds(100)
    ) throws(LibvirtError) -> BlockJobInfo? {
        let clock = ContinuousClock()
        let deadline = clock.now.advanced(by: timeout)
        while true {
            guard let info = try blockJobInfo(disk: disk) else { return nil }
            if info.isReady { return info }
            if clock.now >= deadline {
                throw LibvirtError.timeout(
                    "block job on disk '\(disk)' of domain '\(name)' not ready within \(timeout) (\(info.cur)/\(info.end))")
            }
            sleepFor(pollInterval)
        }
    }

    /// Pivots a copy / active-commit job (`blockJobAbort` with `.pivot`), retrying while libvirt
    /// answers "not ready for pivot yet": `cur == end` can be reported before QEMU's job reaches
    /// the ready state (seen on a loaded host with a tiny shallow copy).
    public func pivotBlockJob(disk: String, timeout: Duration = .seconds(60), pollInterval: Duration = .milliseconds(50)) throws(LibvirtError) {
        let clock = ContinuousClock()
        let deadline = clock.now.advanced(by: timeout)
        while true {
            do throws(LibvirtError) {
                try blockJobAbort(disk: disk, flags: [.pivot])
                return
            } catch  where error.code == .blockCopyActive && clock.now < deadline {
                sleepFor(pollInterval)
            }
        }
    }

    /// Capacity, allocation and physical size of a disk.
    /// See also https://libvirt.org/html/libvirt-libvirt-domain.html#virDomainGetBlockInfo
    public func blockInfo(disk: String) throws(LibvirtError) -> BlockInfo {
        var info = virDomainBlockInfo()
        try check(virDomainGetBlockInfo(handle, disk, &info, 0))
        return BlockInfo(capacity: info.capacity, allocation: info.allocation, physical: info.physical)
    }
}
