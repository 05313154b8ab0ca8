import Clibvirt

/// A storage pool (`virStoragePoolPtr`), e.g. a `dir` pool holding qcow2 files.
///
/// Owns one reference, released with `virStoragePoolFree` in `deinit`, and
/// keeps its `Connection` alive.
///
/// `@unchecked Sendable`: libvirt storage pool objects are thread-safe; this
/// class has no mutable Swift state.
public final class StoragePool: LibvirtObject<Connection> {
    /// The connection this pool was obtained from.
    public var connection: Connection { owner }

    /// Takes ownership of `handle` (one reference).
    init(handle: OpaquePointer, connection: Connection) {
        super.init(handle: handle, owner: connection, release: { virStoragePoolFree($0) }, getName: { virStoragePoolGetName($0) })
    }

    /// Whether the pool is started.
    /// See also https://libvirt.org/html/libvirt-libvirt-storage.html#virStoragePoolIsActive
    public var isActive: Bool {
        get throws(LibvirtError) { try check(virStoragePoolIsActive(handle)) == 1 }
    }

    /// Whether the pool has a persistent definition.
    /// See also https://libvirt.org/html/libvirt-libvirt-storage.html#virStoragePoolIsPersistent
    public var isPersistent: Bool {
        get throws(LibvirtError) { try check(virStoragePoolIsPersistent(handle)) == 1 }
    }

    /// The pool's XML description.
    /// See also https://libvirt.org/html/libvirt-libvirt-storage.html#virStoragePoolGetXMLDesc
    public func xml() throws(LibvirtError) -> String {
        try takeString(virStoragePoolGetXMLDesc(handle, 0))
    }

    /// Builds the pool's underlying storage (for a `dir` pool: creates the directory).
    /// See also https://libvirt.org/html/libvirt-libvirt-storage.html#virStoragePoolBuild
    public func build(flags: StoragePoolBuildFlags = []) throws(LibvirtError) {
        try check(virStoragePoolBuild(handle, flags.rawValue))
    }

    /// Starts (activates) a defined pool.
    /// See also https://libvirt.org/html/libvirt-libvirt-storage.html#virStoragePoolCreate
    public func start(flags: StoragePoolCreateFlags = []) throws(LibvirtError) {
        try check(virStoragePoolCreate(handle, flags.rawValue))
    }

    /// Stops the pool; its data is untouched.
    /// See also https://libvirt.org/html/libvirt-libvirt-storage.html#virStoragePoolDestroy
    public func destroy() throws(LibvirtError) {
        try check(virStoragePoolDestroy(handle))
    }

    /// Removes an inactive pool's persistent definition; its data is untouched.
    /// See also https://libvirt.org/html/libvirt-libvirt-storage.html#virStoragePoolUndefine
    public func undefine() throws(LibvirtError) {
        try check(virStoragePoolUndefine(handle))
    }

    /// Rescans the pool's storage for volumes created or removed behind libvirt's back.
    /// See also https://libvirt.org/html/libvirt-libvirt-storage.html#virStoragePoolRefresh
    public func refresh() throws(LibvirtError) {
        try check(virStoragePoolRefresh(handle, 0))
    }

    /// Whether the pool starts when the host (daemon) starts.
    /// See also https://libvirt.org/html/libvirt-libvirt-storage.html#virStoragePoolSetAutostart
    public func setAutostart(_ autostart: Bool) throws(LibvirtError) {
        try check(virStoragePoolSetAutostart(handle, autostart ? 1 : 0))
    }

    /// State and sizes of the pool.
    /// See also https://libvirt.org/html/libvirt-libvirt-storage.html#virStoragePoolGetInfo
    public func info() throws(LibvirtError) -> StoragePoolInfo {
        var info = virStoragePoolInfo()
        try check(virStoragePoolGetInfo(handle, &info))
        return StoragePoolInfo(
            state: StoragePoolState(rawValue: Int32(info.state)) ?? .inactive,
            capacity: info.capacity, allocation: info.allocation, available: info.available)
    }

    /// The volumes in an active pool.
    /// See also https://libvirt.org/html/libvirt-libvirt-storage.html#virStoragePoolListAllVolumes
    public func volumes() throws(LibvirtError) -> [StorageVolume] {
        var array: UnsafeMutablePointer<OpaquePointer?>? = nil
        let count = virStoragePoolListAllVolumes(handle, &array, 0)
        return try takeHandles(count: count, array) { StorageVolume(handle: $0, connection: connection) }
    }

    /// Looks a volume up by name in this pool; throws `.noStorageVolume` when there is none.
    /// See also https://libvirt.org/html/libvirt-libvirt-storage.html#virStorageVolLookupByName
    public func lookupVolume(name: String) throws(LibvirtError) -> StorageVolume {
        guard let pointer = virStorageVolLookupByName(handle, name) else {
            throw LibvirtError.takeLast().naming("storage vol", "name", name)
        }
        return StorageVolume(handle: pointer, connection: connection)
    }

    /// Creates a volume from `<volume>` XML; with `<backingStore>` and qcow2
    /// format this makes an overlay on an existing image.
    /// See also https://libvirt.org/html/libvirt-libvirt-storage.html#virStorageVolCreateXML
    @discardableResult
    public func createVolume(xml: String, flags: StorageVolumeCreateFlags = []) throws(LibvirtError) -> StorageVolume {
        let pointer = virStorageVolCreateXML(handle, xml, flags.rawValue)
        return StorageVolume(handle: try check(pointer), connection: connection)
    }

    /// Creates a volume from `<volume>` XML whose content is copied from `source`
    /// (which may live in another pool).
    /// See also https://libvirt.org/html/libvirt-libvirt-storage.html#virStorageVolCreateXMLFrom
    @discardableResult
    public func cloneVolume(
        xml: String, from source: StorageVolume, flags: StorageVolumeCreateFlags = []
    ) throws(LibvirtError) -> StorageVolume {
        let pointer = virStorageVolCreateXMLFrom(handle, xml, source.handle, flags.rawValue)
        return StorageVolume(handle: try check(pointer), connection: connection)
    }
}

/// The state of a storage pool (`virStoragePoolState`).
/// See also https://libvirt.org/html/libvirt-libvirt-storage.html#virStoragePoolState
public enum StoragePoolState: Int32, Sendable {
    case inactive = 0
    case building = 1
    case running = 2
    case degraded = 3
    case inaccessible = 4
}

/// State and sizes (bytes) of a storage pool (`virStoragePoolInfo`).
/// See also https://libvirt.org/html/libvirt-libvirt-storage.html#virStoragePoolInfo
public struct StoragePoolInfo: Sendable, Hashable {
    public var state: StoragePoolState
    public var capacity: UInt64
    public var allocation: UInt64
    /// Free space left in the pool.
    public var available: UInt64
}

/// The kind of a storage volume (`virStorageVolType`).
/// See also https://libvirt.org/html/libvirt-libvirt-storage.html#virStorageVolType
public enum StorageVolumeType: Int32, Sendable {
    case file = 0
    case block = 1
    case dir = 2
    case network = 3
    case netdir = 4
    case ploop = 5
}

/// Type and sizes (bytes) of a storage volume (`virStorageVolInfo`).
/// See also https://libvirt.org/html/libvirt-libvirt-storage.html#virStorageVolInfo
public struct StorageVolumeInfo: Sendable, Hashable {
    public var type: StorageVolumeType
    /// The logical size the volume offers.
    public var capacity: UInt64
    /// Host storage currently used.
    public var allocation: UInt64
}

/// A storage volume (`virStorageVolPtr`): an image file or device in a pool.
///
/// Owns one reference, released with `virStorageVolFree` in `deinit`, and
/// keeps its `Connection` alive.
///
/// `@unchecked Sendable`: libvirt storage volume objects are thread-safe; this
/// class has no mutable Swift state.
public final class StorageVolume: LibvirtObject<Connection> {
    /// The connection this volume was obtained from.
    public var connection: Connection { owner }

    /// Takes ownership of `handle` (one reference).
    init(handle: OpaquePointer, connection: Connection) {
        super.init(handle: handle, owner: connection, release: { virStorageVolFree($0) }, getName: { virStorageVolGetName($0) })
    }

    /// The volume's unique key (for a file, usually its path).
    /// See also https://libvirt.org/html/libvirt-libvirt-storage.html#virStorageVolGetKey
    public var key: String {
        borrowedString(virStorageVolGetKey(handle)) ?? ""
    }

    /// The volume's target path on the host.
    /// See also https://libvirt.org/html/libvirt-libvirt-storage.html#virStorageVolGetPath
    public var path: String {
        get throws(LibvirtError) { try takeString(virStorageVolGetPath(handle)) }
    }

    /// Type, capacity and allocation.
    /// See also https://libvirt.org/html/libvirt-libvirt-storage.html#virStorageVolGetInfo
    public func info() throws(LibvirtError) -> StorageVolumeInfo {
        var info = virStorageVolInfo()
        try check(virStorageVolGetInfo(handle, &info))
        return StorageVolumeInfo(
            type: StorageVolumeType(rawValue: info.type) ?? .file,
            capacity: info.capacity, allocation: info.allocation)
    }

    /// The volume's XML description.
    /// See also https://libvirt.org/html/libvirt-libvirt-storage.html#virStorageVolGetXMLDesc
    public func xml() throws(LibvirtError) -> String {
        try takeString(virStorageVolGetXMLDesc(handle, 0))
    }

    /// Deletes the volume and its storage.
    /// See also https://libvirt.org/html/libvirt-libvirt-storage.html#virStorageVolDelete
    public func delete(flags: StorageVolumeDeleteFlags = []) throws(LibvirtError) {
        try check(virStorageVolDelete(handle, flags.rawValue))
    }

    /// The pool holding this volume.
    /// See also https://libvirt.org/html/libvirt-libvirt-storage.html#virStoragePoolLookupByVolume
    public func pool() throws(LibvirtError) -> StoragePool {
        let pointer = virStoragePoolLookupByVolume(handle)
        return StoragePool(handle: try check(pointer), connection: connection)
    }
}
