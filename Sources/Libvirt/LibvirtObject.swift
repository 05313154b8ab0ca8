import Clibvirt

/// The part every libvirt object handle shares (`Domain`, `DomainSnapshot`,
/// `DomainCheckpoint`, `StoragePool`, `StorageVolume`).
///
/// Owns one reference to the libvirt handle, released with the object's
/// `vir<Object>Free` in `deinit`, and keeps `owner` (the `Connection` or
/// `Domain` it came from, and so the connection) alive.
///
/// `@unchecked Sendable`: libvirt objects are thread-safe; this class and its
/// subclasses have no mutable Swift state.
public class LibvirtObject<Owner: AnyObject & Sendable>: @unchecked Sendable {
    let handle: OpaquePointer
    let owner: Owner
    private let release: (OpaquePointer) -> Int32
    private let getName: (OpaquePointer) -> UnsafePointer<CChar>?

    /// Takes ownership of `handle` (one reference); `release` is the object's
    /// `vir<Object>Free`, `getName` its `vir<Object>GetName`.
    init(
        handle: OpaquePointer, owner: Owner,
        release: @escaping (OpaquePointer) -> Int32,
        getName: @escaping (OpaquePointer) -> UnsafePointer<CChar>?
    ) {
        self.handle = handle
        self.owner = owner
        self.release = release
        self.getName = getName
    }

    deinit {
        _ = release(handle)
    }

    /// The object's name (`virDomainGetName`, `virDomainSnapshotGetName`,
    /// `virDomainCheckpointGetName`, `virStoragePoolGetName`, `virStorageVolGetName`).
    public var name: String {
        borrowedString(getName(handle)) ?? ""
    }
}
