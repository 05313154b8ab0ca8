import Clibvirt

/// The run state of a domain (`virDomainState`).
/// See also https://libvirt.org/html/libvirt-libvirt-domain.html#virDomainState
public enum DomainState: Int32, Sendable, CaseIterable, CustomStringConvertible {
    case nostate = 0
    case running = 1
    case blocked = 2
    case paused = 3
    case shutdown = 4
    case shutoff = 5
    case crashed = 6
    case pmsuspended = 7

    public var description: String {
        switch self {
        case .nostate: "no state"
        case .running: "running"
        case .blocked: "blocked"
        case .paused: "paused"
        case .shutdown: "shutting down"
        case .shutoff: "shut off"
        case .crashed: "crashed"
        case .pmsuspended: "pmsuspended"
        }
    }
}

/// A domain (virtual machine), `virDomainPtr`.
///
/// Owns one reference to the libvirt handle, released with `virDomainFree` in
/// `deinit`, and keeps its `Connection` alive.
///
/// `@unchecked Sendable`: libvirt domain objects are thread-safe; this class
/// has no mutable Swift state.
public final class Domain: LibvirtObject<Connection> {
    /// The connection this domain was obtained from.
    public var connection: Connection { owner }

    /// Takes ownership of `handle` (one reference).
    init(handle: OpaquePointer, connection: Connection) {
        super.init(handle: handle, owner: connection, release: { virDomainFree($0) }, getName: { virDomainGetName($0) })
    }

    /// The domain's UUID as a string (`xxxxxxxx-xxxx-...`).
    /// See also https://libvirt.org/html/libvirt-libvirt-domain.html#virDomainGetUUIDString
    public var uuidString: String {
        get throws(LibvirtError) {
            var buffer = [CChar](repeating: 0, count: Int(VIR_UUID_STRING_BUFLEN))
            try check(virDomainGetUUIDString(handle, &buffer))
            return String(decoding: buffer.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
        }
    }

    /// The hypervisor id of a running domain; nil when the domain is not running.
    /// See also https://libvirt.org/html/libvirt-libvirt-domain.html#virDomainGetID
    public var id: UInt32? {
        let id = virDomainGetID(handle)
        if id == UInt32.max {
            virResetLastError()
            return nil
        }
        return id
    }

    /// The domain's state and the reason for it (a `virDomain<State>Reason` value).
    /// See also https://libvirt.org/html/libvirt-libvirt-domain.html#virDomainGetState
    public func state() throws(LibvirtError) -> (state: DomainState, reason: Int32) {
        var state: Int32 = 0
        var reason: Int32 = 0
        try check(virDomainGetState(handle, &state, &reason, 0))
        return (DomainState(rawValue: state) ?? .nostate, reason)
    }

    /// Why a shut-off domain is off (`virDomainShutoffReason`); nil while it is not shut off.
    public var shutoffReason: ShutoffReason? {
        get throws(LibvirtError) {
            let (state, reason) = try self.state()
            return state == .shutoff ? ShutoffReason(rawValue: reason) ?? .unknown : nil
        }
    }

    /// True when the domain is paused because a snapshot job paused it (`VIR_DOMAIN_PAUSED_SNAPSHOT`),
    /// not by a user: a capture that never finished left it so.
    public var isPausedForSnapshot: Bool {
        get throws(LibvirtError) {
            let (state, reason) = try self.state()
            return state == .paused && reason == Int32(VIR_DOMAIN_PAUSED_SNAPSHOT.rawValue)
        }
    }

    /// Whether the domain is running (or paused).
    /// See also https://libvirt.org/html/libvirt-libvirt-domain.html#virDomainIsActive
    public var isActive: Bool {
        get throws(LibvirtError) { try check(virDomainIsActive(handle)) == 1 }
    }

    /// Whether the domain has a persistent definition (is not transient).
    /// See also https://libvirt.org/html/libvirt-libvirt-domain.html#virDomainIsPersistent
    public var isPersistent: Bool {
        get throws(LibvirtError) { try check(virDomainIsPersistent(handle)) == 1 }
    }

    /// The domain XML: live by default, the persistent definition with `.inactive`,
    /// secrets included with `.secure`.
    /// See also https://libvirt.org/html/libvirt-libvirt-domain.html#virDomainGetXMLDesc
    public func xml(flags: DomainXMLFlags = []) throws(LibvirtError) -> String {
        try takeString(virDomainGetXMLDesc(handle, flags.rawValue))
    }

    /// Whether the domain starts when the host (daemon) starts.
    /// See also https://libvirt.org/html/libvirt-libvirt-domain.html#virDomainGetAutostart
    public var autostart: Bool {
        get throws(LibvirtError) {
            var value: Int32 = 0
            try check(virDomainGetAutostart(handle, &value))
            return value != 0
        }
    }

    /// Sets whether the domain starts when the host (daemon) starts.
    /// See also https://libvirt.org/html/libvirt-libvirt-domain.html#virDomainSetAutostart
    public func setAutostart(_ autostart: Bool) throws(LibvirtError) {
        try check(virDomainSetAutostart(handle, autostart ? 1 : 0))
    }

    /// Whether a managed save image exists (the domain will resume from it on start).
    /// See also https://libvirt.org/html/libvirt-libvirt-domain.html#virDomainHasManagedSaveImage
    public var hasManagedSaveImage: Bool {
        get throws(LibvirtError) { try check(virDomainHasManagedSaveImage(handle, 0)) == 1 }
    }

    // MARK: Lifecycle

    /// Starts a defined domain (`.paused` to start it paused).
    /// See also https://libvirt.org/html/libvirt-libvirt-domain.html#virDomainCreateWithFlags
    public func start(flags: DomainCreateFlags = []) throws(LibvirtError) {
        try check(virDomainCreateWithFlags(handle, flags.rawValue))
    }

    /// Asks the guest to shut down; returns at once, the guest may ignore it.
    /// See also https://libvirt.org/html/libvirt-libvirt-domain.html#virDomainShutdownFlags
    public func shutdown(flags: DomainShutdownFlags = []) throws(LibvirtError) {
        try check(virDomainShutdownFlags(handle, flags.rawValue))
    }

    /// Asks the guest to shut down, then polls its state until it is shut off.
    /// Throws `.operationTimeout` (domain `.swiftWrapper`) when it is still
    /// running after `timeout`; the domain is left as it is then.
    /// Blocks the calling thread. See also
    /// https://libvirt.org/html/libvirt-libvirt-domain.html#virDomainShutdownFlags
    public func shutdown(
        timeout: Duration, pollInterval: Duration = .milliseconds(200), flags: DomainShutdownFlags = []
    ) throws(LibvirtError) {
        let clock = ContinuousClock()
        let deadline = clock.now.advanced(by: timeout)
        if try state().state == .shutoff { return }
        try shutdown(flags: flags)
        while true {
            if try state().state == .shutoff { return }
            if clock.now >= deadline {
                throw LibvirtError.timeout("domain '\(name)' did not shut down within \(timeout)")
            }
            sleepFor(pollInterval)
        }
    }

    /// Stops the domain at once, like pulling the power plug.
    /// See also https://libvirt.org/html/libvirt-libvirt-domain.html#virDomainDestroyFlags
    public func destroy(flags: DomainDestroyFlags = []) throws(LibvirtError) {
        try check(virDomainDestroyFlags(handle, flags.rawValue))
    }

    /// Pauses the domain's vCPUs; memory stays allocated.
    /// See also https://libvirt.org/html/libvirt-libvirt-domain.html#virDomainSuspend
    public func suspend() throws(LibvirtError) {
        try check(virDomainSuspend(handle))
    }

    /// Resumes a paused domain.
    /// See also https://libvirt.org/html/libvirt-libvirt-domain.html#virDomainResume
    public func resume() throws(LibvirtError) {
        try check(virDomainResume(handle))
    }

    /// Saves the domain's memory state to `path` and stops it; `xml` optionally
    /// replaces the domain XML stored in the image.
    /// See also https://libvirt.org/html/libvirt-libvirt-domain.html#virDomainSaveFlags
    public func save(to path: String, xml: String? = nil, flags: DomainSaveFlags = []) throws(LibvirtError) {
        let status = withOptionalCString(xml) { xml in virDomainSaveFlags(handle, path, xml, flags.rawValue) }
        try check(status)
    }

    /// Removes the persistent definition (a running domain becomes transient).
    /// See also https://libvirt.org/html/libvirt-libvirt-domain.html#virDomainUndefineFlags
    public func undefine(flags: DomainUndefineFlags = []) throws(LibvirtError) {
        try check(virDomainUndefineFlags(handle, flags.rawValue))
    }

    // MARK: Guest file systems

    /// Freezes the guest's file systems through the guest agent (all when
    /// `mountpoints` is empty); returns how many were frozen.
    /// See also https://libvirt.org/html/libvirt-libvirt-domain.html#virDomainFSFreeze
    @discardableResult
    public func fsFreeze(mountpoints: [String] = []) throws(LibvirtError) -> Int {
        let status = withCStringArray(mountpoints) { array, count in
            virDomainFSFreeze(handle, array, count, 0)
        }
        return Int(try check(status))
    }

    /// Thaws file systems frozen by `fsFreeze`; returns how many were thawed.
    /// See also https://libvirt.org/html/libvirt-libvirt-domain.html#virDomainFSThaw
    @discardableResult
    public func fsThaw(mountpoints: [String] = []) throws(LibvirtError) -> Int {
        let status = withCStringArray(mountpoints) { array, count in
            virDomainFSThaw(handle, array, count, 0)
        }
        return Int(try check(status))
    }
}

/// Why a domain is shut off (libvirt's `virDomainShutoffReason`).
public enum ShutoffReason: Int32, Sendable {
    case unknown = 0
    case shutdown, destroyed, crashed, migrated, saved, failed, fromSnapshot, daemon

    /// Shut down by the guest or destroyed on request (virsh shutdown/destroy, a management tool).
    public var wasRequested: Bool { self == .shutdown || self == .destroyed }
}
