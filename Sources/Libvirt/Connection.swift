import Clibvirt

/// A libvirt version, decoded from libvirt's `major * 1_000_000 + minor * 1_000 + release`.
public struct LibvirtVersion: Comparable, Hashable, Sendable, CustomStringConvertible {
    public var major: Int
    public var minor: Int
    public var release: Int

    public init(major: Int, minor: Int, release: Int) {
        self.major = major
        self.minor = minor
        self.release = release
    }

    /// Decodes libvirt's packed version number.
    public init(packed: UInt) {
        self.init(
            major: Int(packed / 1_000_000), minor: Int(packed / 1_000 % 1_000),
            release: Int(packed % 1_000))
    }

    public var description: String { "\(major).\(minor).\(release)" }

    public static func < (lhs: LibvirtVersion, rhs: LibvirtVersion) -> Bool {
        (lhs.major, lhs.minor, lhs.release) < (rhs.major, rhs.minor, rhs.release)
    }
}

/// A connection to a hypervisor (`virConnectPtr`).
///
/// The connection is closed (`virConnectClose`) when the last reference goes;
/// every `Domain`, `StoragePool`, `StorageVolume` and event registration made
/// from it holds a strong reference, so it outlives them.
///
/// `@unchecked Sendable`: libvirt connections are thread-safe (libvirt locks
/// internally), and this class has no mutable Swift state.
public final class Connection: @unchecked Sendable {
    let handle: OpaquePointer

    /// Opens a connection to `uri` (`nil` lets libvirt pick its default URI),
    /// e.g. `test:///default`, `qemu:///system`, `qemu+ssh://host/system`.
    /// Throws when the URI is malformed, no driver accepts it, or the daemon
    /// refuses. See also https://libvirt.org/html/libvirt-libvirt-host.html#virConnectOpen
    /// and https://libvirt.org/html/libvirt-libvirt-host.html#virConnectOpenReadOnly
    public init(uri: String?, readOnly: Bool = false) throws(LibvirtError) {
        LibvirtRuntime.ensureInitialized()
        // The event loop must exist before the first connection: drivers register their event
        // timers when their state is created (the test driver's state is shared by every
        // connection in the process), and remote connections use it for keepalive.
        try EventLoop.start()
        let pointer = withOptionalCString(uri) { uri in
            readOnly ? virConnectOpenReadOnly(uri) : virConnectOpen(uri)
        }
        handle = try check(pointer)
    }

    deinit {
        virConnectClose(handle)
    }

    /// The canonical URI of this connection.
    /// See also https://libvirt.org/html/libvirt-libvirt-host.html#virConnectGetURI
    public var uri: String {
        get throws(LibvirtError) { try takeString(virConnectGetURI(handle)) }
    }

    /// The hypervisor host's name.
    /// See also https://libvirt.org/html/libvirt-libvirt-host.html#virConnectGetHostname
    public func hostname() throws(LibvirtError) -> String {
        try takeString(virConnectGetHostname(handle))
    }

    /// Whether the connection is still alive (for remote connections).
    /// See also https://libvirt.org/html/libvirt-libvirt-host.html#virConnectIsAlive
    public var isAlive: Bool {
        get throws(LibvirtError) { try check(virConnectIsAlive(handle)) == 1 }
    }

    /// The version of libvirt used by the daemon (or the library, for local drivers).
    /// See also https://libvirt.org/html/libvirt-libvirt-host.html#virConnectGetLibVersion
    public func libraryVersion() throws(LibvirtError) -> LibvirtVersion {
        var packed: UInt = 0
        try check(virConnectGetLibVersion(handle, &packed))
        return LibvirtVersion(packed: packed)
    }

    /// The version of the hypervisor (e.g. QEMU) behind this connection.
    /// See also https://libvirt.org/html/libvirt-libvirt-host.html#virConnectGetVersion
    public func hypervisorVersion() throws(LibvirtError) -> LibvirtVersion {
        var packed: UInt = 0
        try check(virConnectGetVersion(handle, &packed))
        return LibvirtVersion(packed: packed)
    }

    /// The version of the libvirt library linked into this process.
    /// See also https://libvirt.org/html/libvirt-libvirt-host.html#virGetVersion
    public static func localLibraryVersion() throws(LibvirtError) -> LibvirtVersion {
        LibvirtRuntime.ensureInitialized()
        var packed: UInt = 0
        try check(virGetVersion(&packed, nil, nil))
        return LibvirtVersion(packed: packed)
    }

    /// The hypervisor's capabilities XML.
    /// See also https://libvirt.org/html/libvirt-libvirt-host.html#virConnectGetCapabilities
    public func capabilities() throws(LibvirtError) -> String {
        try takeString(virConnectGetCapabilities(handle))
    }

    // MARK: Domains

    /// All domains matching `flags` (all domains when empty), active and inactive.
    /// See also https://libvirt.org/html/libvirt-libvirt-domain.html#virConnectListAllDomains
    public func allDomains(flags: ConnectListAllDomainsFlags = []) throws(LibvirtError) -> [Domain] {
        var array: UnsafeMutablePointer<OpaquePointer?>? = nil
        let count = virConnectListAllDomains(handle, &array, flags.rawValue)
        return try takeHandles(count: count, array) { Domain(handle: $0, connection: self) }
    }

    /// All domains matching `flags`, each with its state and reason, read one
    /// domain at a time (a domain that vanishes meanwhile is left out).
    /// See also https://libvirt.org/html/libvirt-libvirt-domain.html#virConnectListAllDomains
    /// and https://libvirt.org/html/libvirt-libvirt-domain.html#virDomainGetState
    public func allDomainsWithState(
        flags: ConnectListAllDomainsFlags = []
    ) throws(LibvirtError) -> [(domain: Domain, state: DomainState, reason: Int32)] {
        var result: [(domain: Domain, state: DomainState, reason: Int32)] = []
        for domain in try allDomains(flags: flags) {
            do {
                let (state, reason) = try domain.state()
                result.append((domain, state, reason))
            } catch  where error.code == .noDomain {
                continue
            }
        }
        return result
    }

    /// Looks a domain up by name; throws `.noDomain` when there is none.
    /// See also https://libvirt.org/html/libvirt-libvirt-domain.html#virDomainLookupByName
    public func lookupDomain(name: String) throws(LibvirtError) -> Domain {
        guard let pointer = virDomainLookupByName(handle, name) else {
            throw LibvirtError.takeLast().naming("domain", "name", name)
        }
        return Domain(handle: pointer, connection: self)
    }

    /// Looks a domain up by its UUID string; throws `.noDomain` when there is none.
    /// See also https://libvirt.org/html/libvirt-libvirt-domain.html#virDomainLookupByUUIDString
    public func lookupDomain(uuid: String) throws(LibvirtError) -> Domain {
        guard let pointer = virDomainLookupByUUIDString(handle, uuid) else {
            throw LibvirtError.takeLast().naming("domain", "uuid", uuid)
        }
        return Domain(handle: pointer, connection: self)
    }

    /// Looks a running domain up by its hypervisor id.
    /// See also https://libvirt.org/html/libvirt-libvirt-domain.html#virDomainLookupByID
    public func lookupDomain(id: Int32) throws(LibvirtError) -> Domain {
        let pointer = virDomainLookupByID(handle, id)
        return Domain(handle: try check(pointer), connection: self)
    }

    /// Defines (or redefines) a persistent domain from XML without starting it.
    /// See also https://libvirt.org/html/libvirt-libvirt-domain.html#virDomainDefineXMLFlags
    public func defineDomain(xml: String, flags: DomainDefineFlags = []) throws(LibvirtError) -> Domain {
        let pointer = virDomainDefineXMLFlags(handle, xml, flags.rawValue)
        return Domain(handle: try check(pointer), connection: self)
    }

    /// Creates and starts a transient domain from XML; it disappears when it stops.
    /// See also https://libvirt.org/html/libvirt-libvirt-domain.html#virDomainCreateXML
    public func createTransientDomain(xml: String, flags: DomainCreateFlags = []) throws(LibvirtError) -> Domain {
        let pointer = virDomainCreateXML(handle, xml, flags.rawValue)
        return Domain(handle: try check(pointer), connection: self)
    }

    /// Restores a domain from a file written by `Domain.save(to:xml:flags:)`,
    /// optionally with an alternate domain XML (e.g. disks pointing at new overlays).
    /// See also https://libvirt.org/html/libvirt-libvirt-domain.html#virDomainRestoreFlags
    public func restoreDomain(from path: String, xml: String? = nil, flags: DomainRestoreFlags = []) throws(LibvirtError) {
        let status = withOptionalCString(xml) { xml in virDomainRestoreFlags(handle, path, xml, flags.rawValue) }
        try check(status)
    }

    /// The domain XML stored in a save image (memory state file).
    /// See also https://libvirt.org/html/libvirt-libvirt-domain.html#virDomainSaveImageGetXMLDesc
    public func saveImageXML(path: String, flags: DomainXMLFlags = []) throws(LibvirtError) -> String {
        try takeString(virDomainSaveImageGetXMLDesc(handle, path, flags.rawValue))
    }

    /// Replaces the domain XML stored in a save image.
    /// See also https://libvirt.org/html/libvirt-libvirt-domain.html#virDomainSaveImageDefineXML
    public func defineSaveImageXML(path: String, xml: String, flags: DomainSaveFlags = []) throws(LibvirtError) {
        try check(virDomainSaveImageDefineXML(handle, path, xml, flags.rawValue))
    }

    // MARK: Storage

    /// All storage pools, active and inactive.
    /// See also https://libvirt.org/html/libvirt-libvirt-storage.html#virConnectListAllStoragePools
    public func allStoragePools() throws(LibvirtError) -> [StoragePool] {
        var array: UnsafeMutablePointer<OpaquePointer?>? = nil
        let count = virConnectListAllStoragePools(handle, &array, 0)
        return try takeHandles(count: count, array) { StoragePool(handle: $0, connection: self) }
    }

    /// Looks a storage pool up by name; throws `.noStoragePool` when there is none.
    /// See also https://libvirt.org/html/libvirt-libvirt-storage.html#virStoragePoolLookupByName
    public func lookupStoragePool(name: String) throws(LibvirtError) -> StoragePool {
        guard let pointer = virStoragePoolLookupByName(handle, name) else {
            throw LibvirtError.takeLast().naming("storage pool", "name", name)
        }
        return StoragePool(handle: pointer, connection: self)
    }

    /// Defines a persistent (inactive) storage pool from XML; `build()` and
    /// `start()` it next. See also https://libvirt.org/html/libvirt-libvirt-storage.html#virStoragePoolDefineXML
    public func defineStoragePool(xml: String) throws(LibvirtError) -> StoragePool {
        let pointer = virStoragePoolDefineXML(handle, xml, 0)
        return StoragePool(handle: try check(pointer), connection: self)
    }

    /// Creates and starts a transient storage pool from XML.
    /// See also https://libvirt.org/html/libvirt-libvirt-storage.html#virStoragePoolCreateXML
    public func createTransientStoragePool(xml: String, flags: StoragePoolCreateFlags = []) throws(LibvirtError) -> StoragePool {
        let pointer = virStoragePoolCreateXML(handle, xml, flags.rawValue)
        return StoragePool(handle: try check(pointer), connection: self)
    }

    /// Finds a storage volume by its key (see `StorageVolume.key`).
    /// See also https://libvirt.org/html/libvirt-libvirt-storage.html#virStorageVolLookupByKey
    public func lookupStorageVolume(key: String) throws(LibvirtError) -> StorageVolume {
        guard let pointer = virStorageVolLookupByKey(handle, key) else {
            throw LibvirtError.takeLast().naming("storage vol", "key", key)
        }
        return StorageVolume(handle: pointer, connection: self)
    }

    /// Finds the storage volume whose target path is `path`, in any active pool;
    /// throws `.noStorageVolume` when no pool holds it.
    /// See also https://libvirt.org/html/libvirt-libvirt-storage.html#virStorageVolLookupByPath
    public func lookupStorageVolume(path: String) throws(LibvirtError) -> StorageVolume {
        guard let pointer = virStorageVolLookupByPath(handle, path) else {
            throw LibvirtError.takeLast().naming("storage vol", "path", path)
        }
        return StorageVolume(handle: pointer, connection: self)
    }
}
