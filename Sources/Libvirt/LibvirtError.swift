import Clibvirt

/// The one error every call in this module throws.
///
/// It is a copy of libvirt's per-thread last error (`virError`), taken on the
/// thread of the failing call right after it returned, after which the
/// thread's error is reset. See also https://libvirt.org/html/libvirt-virterror.html#virGetLastError
public struct LibvirtError: Error, CustomStringConvertible, Sendable, Equatable {
    /// libvirt's error number (`virErrorNumber`).
    public var code: Code
    /// The libvirt subsystem that raised the error (`virErrorDomain`).
    public var domain: ErrorDomain
    /// libvirt's human-readable message, as it formats it.
    public var message: String

    public init(code: Code, domain: ErrorDomain, message: String) {
        self.code = code
        self.domain = domain
        self.message = message
    }

    /// A single line: libvirt's message, or the code when libvirt gave none.
    public var description: String {
        let text = message.isEmpty ? "libvirt error \(code)" : message
        return text.split(whereSeparator: \.isNewline).joined(separator: " ")
    }

    /// A libvirt error number (`virErrorNumber`). Named constants cover the
    /// codes a snapshot engine meets; any other code keeps its raw value.
    /// See also https://libvirt.org/html/libvirt-virterror.html#virErrorNumber
    public struct Code: RawRepresentable, Hashable, Sendable, CustomStringConvertible {
        public var rawValue: Int32
        public init(rawValue: Int32) { self.rawValue = rawValue }
        init(_ number: virErrorNumber) { self.rawValue = Int32(bitPattern: number.rawValue) }

        /// `VIR_ERR_OK`
        public static let ok = Code(VIR_ERR_OK)
        /// `VIR_ERR_INTERNAL_ERROR`
        public static let internalError = Code(VIR_ERR_INTERNAL_ERROR)
        /// `VIR_ERR_NO_MEMORY`
        public static let noMemory = Code(VIR_ERR_NO_MEMORY)
        /// `VIR_ERR_NO_SUPPORT`: the driver does not implement the call.
        public static let noSupport = Code(VIR_ERR_NO_SUPPORT)
        /// `VIR_ERR_NO_CONNECT`: no driver for the URI, or the connection failed.
        public static let noConnect = Code(VIR_ERR_NO_CONNECT)
        /// `VIR_ERR_INVALID_CONN`
        public static let invalidConnection = Code(VIR_ERR_INVALID_CONN)
        /// `VIR_ERR_INVALID_DOMAIN`
        public static let invalidDomain = Code(VIR_ERR_INVALID_DOMAIN)
        /// `VIR_ERR_INVALID_ARG`
        public static let invalidArgument = Code(VIR_ERR_INVALID_ARG)
        /// `VIR_ERR_OPERATION_FAILED`
        public static let operationFailed = Code(VIR_ERR_OPERATION_FAILED)
        /// `VIR_ERR_XML_ERROR`
        public static let xmlError = Code(VIR_ERR_XML_ERROR)
        /// `VIR_ERR_XML_DETAIL`
        public static let xmlDetail = Code(VIR_ERR_XML_DETAIL)
        /// `VIR_ERR_SYSTEM_ERROR`: an OS call failed (errno in the message).
        public static let systemError = Code(VIR_ERR_SYSTEM_ERROR)
        /// `VIR_ERR_AUTH_FAILED`
        public static let authFailed = Code(VIR_ERR_AUTH_FAILED)
        /// `VIR_ERR_AUTH_CANCELLED`
        public static let authCancelled = Code(VIR_ERR_AUTH_CANCELLED)
        /// `VIR_ERR_AUTH_UNAVAILABLE`
        public static let authUnavailable = Code(VIR_ERR_AUTH_UNAVAILABLE)
        /// `VIR_ERR_NO_DOMAIN`: no domain with that name, UUID or id.
        public static let noDomain = Code(VIR_ERR_NO_DOMAIN)
        /// `VIR_ERR_DOM_EXIST`
        public static let domainExists = Code(VIR_ERR_DOM_EXIST)
        /// `VIR_ERR_OPERATION_DENIED`
        public static let operationDenied = Code(VIR_ERR_OPERATION_DENIED)
        /// `VIR_ERR_OPERATION_INVALID`: not valid in the object's current state.
        public static let operationInvalid = Code(VIR_ERR_OPERATION_INVALID)
        /// `VIR_ERR_OPERATION_TIMEOUT`; also used by this module's own polling waits.
        public static let operationTimeout = Code(VIR_ERR_OPERATION_TIMEOUT)
        /// `VIR_ERR_OPERATION_ABORTED`
        public static let operationAborted = Code(VIR_ERR_OPERATION_ABORTED)
        /// `VIR_ERR_ARGUMENT_UNSUPPORTED`: e.g. fsFreeze without a configured guest agent.
        public static let argumentUnsupported = Code(VIR_ERR_ARGUMENT_UNSUPPORTED)
        /// `VIR_ERR_BLOCK_COPY_ACTIVE`: the disk is busy with a block copy.
        public static let blockCopyActive = Code(VIR_ERR_BLOCK_COPY_ACTIVE)
        /// `VIR_ERR_OPERATION_UNSUPPORTED`
        public static let operationUnsupported = Code(VIR_ERR_OPERATION_UNSUPPORTED)
        /// `VIR_ERR_CONFIG_UNSUPPORTED`
        public static let configUnsupported = Code(VIR_ERR_CONFIG_UNSUPPORTED)
        /// `VIR_ERR_NO_STORAGE_POOL`
        public static let noStoragePool = Code(VIR_ERR_NO_STORAGE_POOL)
        /// `VIR_ERR_NO_STORAGE_VOL`
        public static let noStorageVolume = Code(VIR_ERR_NO_STORAGE_VOL)
        /// `VIR_ERR_STORAGE_VOL_EXIST`
        public static let storageVolumeExists = Code(VIR_ERR_STORAGE_VOL_EXIST)
        /// `VIR_ERR_STORAGE_POOL_BUILT`
        public static let storagePoolBuilt = Code(VIR_ERR_STORAGE_POOL_BUILT)
        /// `VIR_ERR_NO_DOMAIN_SNAPSHOT`
        public static let noDomainSnapshot = Code(VIR_ERR_NO_DOMAIN_SNAPSHOT)
        /// `VIR_ERR_SNAPSHOT_REVERT_RISKY`
        public static let snapshotRevertRisky = Code(VIR_ERR_SNAPSHOT_REVERT_RISKY)
        /// `VIR_ERR_NO_DOMAIN_CHECKPOINT`
        public static let noDomainCheckpoint = Code(VIR_ERR_NO_DOMAIN_CHECKPOINT)
        /// `VIR_ERR_NO_DOMAIN_BACKUP`
        public static let noDomainBackup = Code(VIR_ERR_NO_DOMAIN_BACKUP)
        /// `VIR_ERR_CHECKPOINT_INCONSISTENT`
        public static let checkpointInconsistent = Code(VIR_ERR_CHECKPOINT_INCONSISTENT)
        /// `VIR_ERR_AGENT_UNRESPONSIVE`: the guest agent did not answer.
        public static let agentUnresponsive = Code(VIR_ERR_AGENT_UNRESPONSIVE)
        /// `VIR_ERR_RESOURCE_BUSY`
        public static let resourceBusy = Code(VIR_ERR_RESOURCE_BUSY)
        /// `VIR_ERR_ACCESS_DENIED`
        public static let accessDenied = Code(VIR_ERR_ACCESS_DENIED)
        /// `VIR_ERR_NO_SECRET`
        public static let noSecret = Code(VIR_ERR_NO_SECRET)
        /// `VIR_ERR_RPC`
        public static let rpc = Code(VIR_ERR_RPC)
        /// `VIR_ERR_NO_NETWORK`
        public static let noNetwork = Code(VIR_ERR_NO_NETWORK)

        /// The Swift name of a named code, or `code N`.
        public var description: String {
            Self.names[self] ?? "code \(rawValue)"
        }

        private static let names: [Code: String] = [
            .ok: "ok",
            .internalError: "internalError",
            .noMemory: "noMemory",
            .noSupport: "noSupport",
            .noConnect: "noConnect",
            .invalidConnection: "invalidConnection",
            .invalidDomain: "invalidDomain",
            .invalidArgument: "invalidArgument",
            .operationFailed: "operationFailed",
            .xmlError: "xmlError",
            .xmlDetail: "xmlDetail",
            .systemError: "systemError",
            .authFailed: "authFailed",
            .authCancelled: "authCancelled",
            .authUnavailable: "authUnavailable",
            .noDomain: "noDomain",
            .domainExists: "domainExists",
            .operationDenied: "operationDenied",
            .operationInvalid: "operationInvalid",
            .operationTimeout: "operationTimeout",
            .operationAborted: "operationAborted",
            .argumentUnsupported: "argumentUnsupported",
            .blockCopyActive: "blockCopyActive",
            .operationUnsupported: "operationUnsupported",
            .configUnsupported: "configUnsupported",
            .noStoragePool: "noStoragePool",
            .noNetwork: "noNetwork",
            .noStorageVolume: "noStorageVolume",
            .storageVolumeExists: "storageVolumeExists",
            .storagePoolBuilt: "storagePoolBuilt",
            .noDomainSnapshot: "noDomainSnapshot",
            .snapshotRevertRisky: "snapshotRevertRisky",
            .noDomainCheckpoint: "noDomainCheckpoint",
            .noDomainBackup: "noDomainBackup",
            .checkpointInconsistent: "checkpointInconsistent",
            .agentUnresponsive: "agentUnresponsive",
            .resourceBusy: "resourceBusy",
            .accessDenied: "accessDenied",
            .noSecret: "noSecret",
            .rpc: "rpc",
        ]
    }

    /// The libvirt subsystem an error came from (`virErrorDomain`).
    /// See also https://libvirt.org/html/libvirt-virterror.html#virErrorDomain
    public struct ErrorDomain: RawRepresentable, Hashable, Sendable {
        public var rawValue: Int32
        public init(rawValue: Int32) { self.rawValue = rawValue }
        init(_ domain: virErrorDomain) { self.rawValue = Int32(bitPattern: domain.rawValue) }

        /// `VIR_FROM_NONE`
        public static let none = ErrorDomain(VIR_FROM_NONE)
        /// `VIR_FROM_QEMU`
        public static let qemu = ErrorDomain(VIR_FROM_QEMU)
        /// `VIR_FROM_DOM`
        public static let domain = ErrorDomain(VIR_FROM_DOM)
        /// `VIR_FROM_CONF`
        public static let config = ErrorDomain(VIR_FROM_CONF)
        /// `VIR_FROM_STORAGE`
        public static let storage = ErrorDomain(VIR_FROM_STORAGE)
        /// `VIR_FROM_TEST`
        public static let test = ErrorDomain(VIR_FROM_TEST)
        /// `VIR_FROM_REMOTE`
        public static let remote = ErrorDomain(VIR_FROM_REMOTE)
        /// `VIR_FROM_RPC`
        public static let rpc = ErrorDomain(VIR_FROM_RPC)
        /// `VIR_FROM_DOMAIN_SNAPSHOT`
        public static let domainSnapshot = ErrorDomain(VIR_FROM_DOMAIN_SNAPSHOT)
        /// `VIR_FROM_DOMAIN_CHECKPOINT`
        public static let domainCheckpoint = ErrorDomain(VIR_FROM_DOMAIN_CHECKPOINT)
        /// Errors made by this Swift module itself (timeouts of its polling waits).
        public static let swiftWrapper = ErrorDomain(rawValue: -1)
    }
}

extension LibvirtError {
    /// Copies and clears the calling thread's libvirt error. Call it right after
    /// the failing C call, on the same thread, with no other libvirt call between.
    static func takeLast() -> LibvirtError {
        guard let error = virGetLastError() else {
            return LibvirtError(
                code: .internalError, domain: .swiftWrapper,
                message: "libvirt call failed without reporting an error")
        }
        let result = LibvirtError(
            code: Code(rawValue: error.pointee.code),
            domain: ErrorDomain(rawValue: error.pointee.domain),
            message: error.pointee.message.map { String(cString: $0) } ?? "")
        virResetLastError()
        return result
    }

    /// Adds which object was looked up when libvirt's message does not say
    /// (the test driver says only "Domain not found"), in the QEMU driver's words.
    func naming(_ kind: String, _ key: String, _ value: String) -> LibvirtError {
        if message.contains("'\(value)'") { return self }
        var copy = self
        let subject = "no \(kind) with matching \(key) '\(value)'"
        copy.message = message.isEmpty ? subject : "\(message): \(subject)"
        return copy
    }

    static func timeout(_ message: String) -> LibvirtError {
        LibvirtError(code: .operationTimeout, domain: .swiftWrapper, message: message)
    }
}

/// Process-wide libvirt setup done once: initialise the library and silence its
/// default printing of every error to stderr (errors reach callers as `LibvirtError`).
enum LibvirtRuntime {
    private static let initialized: Bool = {
        let ok = virInitialize() == 0
        virSetErrorFunc(nil) { _, _ in }
        return ok
    }()

    static func ensureInitialized() {
        _ = initialized
    }
}

/// The calling thread's pending libvirt error code, for tests.
func pendingLibvirtErrorCode() -> Int32? {
    virGetLastError().map { $0.pointee.code }
}
