import Clibvirt
import Foundation
import Synchronization

/// A domain lifecycle event (`virDomainEventType`) with its detail, a
/// `virDomainEvent<Type>DetailType` value (e.g. for `.suspended`,
/// 0 = paused, 5 = API error; for `.stopped`, 0 = shutdown, 1 = destroyed).
/// See also https://libvirt.org/html/libvirt-libvirt-domain.html#virDomainEventType
public enum LifecycleEvent: Sendable, Hashable {
    case defined(detail: Int32)
    case undefined(detail: Int32)
    case started(detail: Int32)
    case suspended(detail: Int32)
    case resumed(detail: Int32)
    case stopped(detail: Int32)
    case shutdown(detail: Int32)
    case pmsuspended(detail: Int32)
    case crashed(detail: Int32)
    /// An event type newer than this module.
    case other(event: Int32, detail: Int32)

    /// Decodes libvirt's `event` / `detail` pair.
    public init(event: Int32, detail: Int32) {
        switch event {
        case Int32(VIR_DOMAIN_EVENT_DEFINED.rawValue): self = .defined(detail: detail)
        case Int32(VIR_DOMAIN_EVENT_UNDEFINED.rawValue): self = .undefined(detail: detail)
        case Int32(VIR_DOMAIN_EVENT_STARTED.rawValue): self = .started(detail: detail)
        case Int32(VIR_DOMAIN_EVENT_SUSPENDED.rawValue): self = .suspended(detail: detail)
        case Int32(VIR_DOMAIN_EVENT_RESUMED.rawValue): self = .resumed(detail: detail)
        case Int32(VIR_DOMAIN_EVENT_STOPPED.rawValue): self = .stopped(detail: detail)
        case Int32(VIR_DOMAIN_EVENT_SHUTDOWN.rawValue): self = .shutdown(detail: detail)
        case Int32(VIR_DOMAIN_EVENT_PMSUSPENDED.rawValue): self = .pmsuspended(detail: detail)
        case Int32(VIR_DOMAIN_EVENT_CRASHED.rawValue): self = .crashed(detail: detail)
        default: self = .other(event: event, detail: detail)
        }
    }

    /// libvirt's detail value for this event.
    public var detail: Int32 {
        switch self {
        case .defined(let d), .undefined(let d), .started(let d), .suspended(let d), .resumed(let d),
            .stopped(let d), .shutdown(let d), .pmsuspended(let d), .crashed(let d):
            d
        case .other(_, let d): d
        }
    }
}

/// libvirt's default event loop, run on a dedicated thread.
///
/// Call `EventLoop.start()` before opening any connection that registers
/// event callbacks: libvirt binds a connection to the event implementation
/// present when it is opened. Starting is idempotent and the loop then runs
/// for the rest of the process (libvirt's default implementation cannot be
/// unregistered).
public enum EventLoop {
    private static let started = Mutex(false)

    /// Registers libvirt's default event implementation (once) and starts a
    /// thread running it.
    /// See also https://libvirt.org/html/libvirt-libvirt-event.html#virEventRegisterDefaultImpl
    /// and https://libvirt.org/html/libvirt-libvirt-event.html#virEventRunDefaultImpl
    public static func start() throws(LibvirtError) {
        LibvirtRuntime.ensureInitialized()
        let result: Result<Void, LibvirtError> = started.withLock { started in
            if started { return .success(()) }
            if virEventRegisterDefaultImpl() < 0 { return .failure(LibvirtError.takeLast()) }
            started = true
            let thread = Thread {
                while true {
                    if virEventRunDefaultImpl() < 0 {
                        // Nothing can receive this error; keep the loop alive.
                        virResetLastError()
                        sleepFor(.milliseconds(10))
                    }
                }
            }
            thread.name = "libvirt-event-loop"
            thread.start()
            return .success(())
        }
        try result.get()
    }

    /// Whether `start()` has run successfully in this process.
    public static var isRunning: Bool { started.withLock { $0 } }
}

/// A registered event callback. Deregistered by `deregister()` or, at the
/// latest, when this object is released: keep it as long as you want events.
///
/// `@unchecked Sendable`: the only mutable state is guarded by a Mutex.
public final class EventRegistration: @unchecked Sendable {
    /// The connection the callback is registered on (kept alive by this object).
    public let connection: Connection
    /// libvirt's callback id.
    public let callbackID: Int32
    private let active = Mutex(true)

    init(connection: Connection, callbackID: Int32) {
        self.connection = connection
        self.callbackID = callbackID
    }

    deinit {
        if active.withLock({ $0 }) {
            if virConnectDomainEventDeregisterAny(connection.handle, callbackID) < 0 { virResetLastError() }
        }
    }

    /// Stops delivery of events to the callback. Calling it twice is harmless.
    /// See also https://libvirt.org/html/libvirt-libvirt-domain.html#virConnectDomainEventDeregisterAny
    public func deregister() throws(LibvirtError) {
        let result: Result<Void, LibvirtError> = active.withLock { active in
            guard active else { return .success(()) }
            if virConnectDomainEventDeregisterAny(connection.handle, callbackID) < 0 {
                return .failure(LibvirtError.takeLast())
            }
            active = false
            return .success(())
        }
        try result.get()
    }
}

/// A block job event (`VIR_DOMAIN_EVENT_ID_BLOCK_JOB_2`): which disk (its
/// target name, e.g. `vda`), what kind of job, and how it ended or that it is
/// ready to pivot.
/// See also https://libvirt.org/html/libvirt-libvirt-domain.html#virConnectDomainEventBlockJobCallback
public struct BlockJobEvent: Sendable, Hashable {
    /// `virConnectDomainEventBlockJobStatus`.
    public enum Status: Int32, Sendable {
        case completed = 0
        case failed = 1
        case canceled = 2
        case ready = 3
    }

    public var disk: String
    public var type: BlockJobType
    /// nil for a status newer than this module (see `rawStatus`).
    public var status: Status?
    public var rawStatus: Int32

    public init(disk: String, type: Int32, status: Int32) {
        self.disk = disk
        self.type = BlockJobType(rawValue: type) ?? .unknown
        self.status = Status(rawValue: status)
        self.rawStatus = status
    }
}

/// What libvirt holds as a callback's `opaque` pointer: the Swift handler.
/// The connection is weak because the registration (not libvirt) owns it.
private final class EventHandlerBox<Payload>: @unchecked Sendable {
    weak var connection: Connection?
    let handler: @Sendable (Domain, Payload) -> Void

    init(connection: Connection, handler: @escaping @Sendable (Domain, Payload) -> Void) {
        self.connection = connection
        self.handler = handler
    }

    /// Called on the event loop thread: wraps the domain libvirt lends for the
    /// call (taking our own reference) and runs the handler.
    static func deliver(_ dom: OpaquePointer?, _ opaque: UnsafeMutableRawPointer?, _ payload: () -> Payload) {
        guard let dom, let opaque else { return }
        let box = Unmanaged<EventHandlerBox<Payload>>.fromOpaque(opaque).takeUnretainedValue()
        guard let connection = box.connection else { return }
        guard virDomainRef(dom) == 0 else {
            virResetLastError()
            return
        }
        box.handler(Domain(handle: dom, connection: connection), payload())
    }
}

extension Connection {
    /// Calls `handler` on the event loop thread for each lifecycle event of
    /// `domain` (or of every domain when nil). Needs `EventLoop.start()`
    /// before this connection was opened. Events stop when the returned
    /// registration is deregistered or released.
    /// See also https://libvirt.org/html/libvirt-libvirt-domain.html#virConnectDomainEventRegisterAny
    public func onLifecycleEvent(
        domain: Domain? = nil, _ handler: @escaping @Sendable (Domain, LifecycleEvent) -> Void
    ) throws(LibvirtError) -> EventRegistration {
        let callback: virConnectDomainEventCallback = { _, dom, event, detail, opaque in
            EventHandlerBox<LifecycleEvent>.deliver(dom, opaque) { LifecycleEvent(event: event, detail: detail) }
            return 0
        }
        return try register(
            domain: domain, eventID: VIR_DOMAIN_EVENT_ID_LIFECYCLE,
            callback: unsafeBitCast(callback, to: virConnectDomainEventGenericCallback.self),
            box: EventHandlerBox(connection: self, handler: handler))
    }

    /// Calls `handler` on the event loop thread when a block job (commit,
    /// pull, copy, backup) of `domain` (or of any domain when nil) completes,
    /// fails, is cancelled, or becomes ready to pivot. Same lifetime rules as
    /// `onLifecycleEvent`.
    /// See also https://libvirt.org/html/libvirt-libvirt-domain.html#virConnectDomainEventRegisterAny
    public func onBlockJobEvent(
        domain: Domain? = nil, _ handler: @escaping @Sendable (Domain, BlockJobEvent) -> Void
    ) throws(LibvirtError) -> EventRegistration {
        let callback: virConnectDomainEventBlockJobCallback = { _, dom, disk, type, status, opaque in
            EventHandlerBox<BlockJobEvent>.deliver(dom, opaque) {
                BlockJobEvent(disk: disk.map { String(cString: $0) } ?? "", type: type, status: status)
            }
        }
        return try register(
            domain: domain, eventID: VIR_DOMAIN_EVENT_ID_BLOCK_JOB_2,
            callback: unsafeBitCast(callback, to: virConnectDomainEventGenericCallback.self),
            box: EventHandlerBox(connection: self, handler: handler))
    }

    private func register<Payload>(
        domain: Domain?, eventID: virDomainEventID, callback: virConnectDomainEventGenericCallback,
        box: EventHandlerBox<Payload>
    ) throws(LibvirtError) -> EventRegistration {
        let opaque = Unmanaged.passRetained(box)
        // libvirt calls this once the callback is deregistered (maybe later, on the loop thread).
        let release: virFreeCallback = { opaque in
            guard let opaque else { return }
            Unmanaged<AnyObject>.fromOpaque(opaque).release()
        }
        let id = virConnectDomainEventRegisterAny(
            handle, domain?.handle, Int32(eventID.rawValue), callback, opaque.toOpaque(), release)
        if id < 0 {
            let error = LibvirtError.takeLast()
            opaque.release()
            throw error
        }
        return EventRegistration(connection: self, callbackID: id)
    }
}
