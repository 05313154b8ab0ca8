import Clibvirt

/// The kind of a domain job (`virDomainJobType`).
/// See also https://libvirt.org/html/libvirt-libvirt-domain.html#virDomainJobType
public enum DomainJobType: Int32, Sendable {
    case none = 0
    case bounded = 1
    case unbounded = 2
    case completed = 3
    case failed = 4
    case cancelled = 5
}

/// Progress of a domain job (save, dump, migration, snapshot, backup), from
/// `virDomainGetJobInfo`. Byte counts are bytes; times are milliseconds.
/// See also https://libvirt.org/html/libvirt-libvirt-domain.html#virDomainJobInfo
public struct DomainJobInfo: Sendable, Hashable {
    public var type: DomainJobType
    public var timeElapsed: UInt64
    public var timeRemaining: UInt64
    public var dataTotal: UInt64
    public var dataProcessed: UInt64
    public var dataRemaining: UInt64
    public var memTotal: UInt64
    public var memProcessed: UInt64
    public var memRemaining: UInt64
    public var fileTotal: UInt64
    public var fileProcessed: UInt64
    public var fileRemaining: UInt64
}

/// Statistics of a domain job from `virDomainGetJobStats`: the common fields
/// typed (nil when the hypervisor did not report them) plus every raw
/// parameter. Byte counts are bytes; times are milliseconds.
/// See also https://libvirt.org/html/libvirt-libvirt-domain.html#virDomainGetJobStats
public struct JobStats: Sendable, Hashable {
    public var type: DomainJobType
    /// `operation`: a `virDomainJobOperation` value (e.g. 6 = snapshot, 9 = backup).
    public var operation: Int32?
    public var timeElapsed: UInt64?
    public var timeRemaining: UInt64?
    public var downtime: UInt64?
    public var dataTotal: UInt64?
    public var dataProcessed: UInt64?
    public var dataRemaining: UInt64?
    public var memTotal: UInt64?
    public var memProcessed: UInt64?
    public var memRemaining: UInt64?
    public var diskTotal: UInt64?
    public var diskProcessed: UInt64?
    public var diskRemaining: UInt64?
    /// `success`: whether a completed job succeeded.
    public var success: Bool?
    /// `errmsg`: why a failed job failed.
    public var errorMessage: String?
    /// Every parameter libvirt returned, by its libvirt name (`VIR_DOMAIN_JOB_*`).
    public var raw: [String: TypedParameterValue]

    public init(type: DomainJobType, raw: [String: TypedParameterValue]) {
        self.type = type
        self.raw = raw
        operation = raw[VIR_DOMAIN_JOB_OPERATION]?.int64Value.map { Int32(truncatingIfNeeded: $0) }
        timeElapsed = raw[VIR_DOMAIN_JOB_TIME_ELAPSED]?.uint64Value
        timeRemaining = raw[VIR_DOMAIN_JOB_TIME_REMAINING]?.uint64Value
        downtime = raw[VIR_DOMAIN_JOB_DOWNTIME]?.uint64Value
        dataTotal = raw[VIR_DOMAIN_JOB_DATA_TOTAL]?.uint64Value
        dataProcessed = raw[VIR_DOMAIN_JOB_DATA_PROCESSED]?.uint64Value
        dataRemaining = raw[VIR_DOMAIN_JOB_DATA_REMAINING]?.uint64Value
        memTotal = raw[VIR_DOMAIN_JOB_MEMORY_TOTAL]?.uint64Value
        memProcessed = raw[VIR_DOMAIN_JOB_MEMORY_PROCESSED]?.uint64Value
        memRemaining = raw[VIR_DOMAIN_JOB_MEMORY_REMAINING]?.uint64Value
        diskTotal = raw[VIR_DOMAIN_JOB_DISK_TOTAL]?.uint64Value
        diskProcessed = raw[VIR_DOMAIN_JOB_DISK_PROCESSED]?.uint64Value
        diskRemaining = raw[VIR_DOMAIN_JOB_DISK_REMAINING]?.uint64Value
        success = raw[VIR_DOMAIN_JOB_SUCCESS]?.boolValue
        errorMessage = raw[VIR_DOMAIN_JOB_ERRMSG]?.stringValue
    }
}

extension Domain {
    /// Progress of the domain's current job (type `.none` when there is none).
    /// See also https://libvirt.org/html/libvirt-libvirt-domain.html#virDomainGetJobInfo
    public func jobInfo() throws(LibvirtError) -> DomainJobInfo {
        var info = virDomainJobInfo()
        try check(virDomainGetJobInfo(handle, &info))
        return DomainJobInfo(
            type: DomainJobType(rawValue: info.type) ?? .none,
            timeElapsed: info.timeElapsed, timeRemaining: info.timeRemaining,
            dataTotal: info.dataTotal, dataProcessed: info.dataProcessed, dataRemaining: info.dataRemaining,
            memTotal: info.memTotal, memProcessed: info.memProcessed, memRemaining: info.memRemaining,
            fileTotal: info.fileTotal, fileProcessed: info.fileProcessed, fileRemaining: info.fileRemaining)
    }

    /// Statistics of the current job (or, with `.completed`, of the last
    /// completed one); nil when there is no such job.
    /// See also https://libvirt.org/html/libvirt-libvirt-domain.html#virDomainGetJobStats
    public func jobStats(flags: DomainJobStatsFlags = []) throws(LibvirtError) -> JobStats? {
        var type: Int32 = 0
        var params: UnsafeMutablePointer<virTypedParameter>? = nil
        var count: Int32 = 0
        try check(virDomainGetJobStats(handle, &type, &params, &count, flags.rawValue))
        defer { virTypedParamsFree(params, count) }
        let jobType = DomainJobType(rawValue: type) ?? .none
        if jobType == .none { return nil }
        return JobStats(type: jobType, raw: TypedParameters.decode(params, count: count))
    }

    /// Aborts the domain's current job (save, migration, backup, ...).
    /// See also https://libvirt.org/html/libvirt-libvirt-domain.html#virDomainAbortJob
    public func abortJob() throws(LibvirtError) {
        try check(virDomainAbortJob(handle))
    }
}

extension Domain {
    /// The longest pause (ms) QEMU accepts at the end of a live migration, which includes the
    /// memory part of a live external snapshot (`virDomainMigrateGetMaxDowntime`).
    /// See also https://libvirt.org/html/libvirt-libvirt-domain.html#virDomainMigrateGetMaxDowntime
    public func maxDowntime() throws(LibvirtError) -> UInt64 {
        var value: UInt64 = 0
        try check(virDomainMigrateGetMaxDowntime(handle, &value, 0))
        return value
    }

    /// Sets that limit (`virDomainMigrateSetMaxDowntime`); stays set on the running QEMU process.
    /// See also https://libvirt.org/html/libvirt-libvirt-domain.html#virDomainMigrateSetMaxDowntime
    public func setMaxDowntime(_ milliseconds: UInt64) throws(LibvirtError) {
        try check(virDomainMigrateSetMaxDowntime(handle, milliseconds, 0))
    }
}
