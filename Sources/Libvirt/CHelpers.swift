import Clibvirt

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

// Small helpers that turn libvirt's C conventions (-1 / NULL on error, strings
// the caller frees, arrays the caller frees) into Swift values or LibvirtError.
// Each is called in the same expression as the C call, so the error read is
// the one that call set, on the same thread.

/// Throws the thread's libvirt error when a C call returned a negative status.
@discardableResult
func check(_ status: Int32) throws(LibvirtError) -> Int32 {
    if status < 0 { throw LibvirtError.takeLast() }
    return status
}

/// Throws the thread's libvirt error when a C call returned NULL.
func check<T>(_ pointer: T?) throws(LibvirtError) -> T {
    guard let pointer else { throw LibvirtError.takeLast() }
    return pointer
}

/// Takes ownership of a heap string returned by libvirt: copies and frees it.
func takeString(_ pointer: UnsafeMutablePointer<CChar>?) throws(LibvirtError) -> String {
    guard let pointer else { throw LibvirtError.takeLast() }
    defer { free(pointer) }
    return String(cString: pointer)
}

/// Copies a string owned by libvirt's object (must not be freed).
func borrowedString(_ pointer: UnsafePointer<CChar>?) -> String? {
    guard let pointer else {
        virResetLastError()
        return nil
    }
    return String(cString: pointer)
}

/// Wraps a handle array returned by a `virXListAll*` call: each handle is
/// handed to `wrap` (which takes ownership), then the array itself is freed.
func takeHandles<T>(
    count: Int32, _ array: UnsafeMutablePointer<OpaquePointer?>?, _ wrap: (OpaquePointer) -> T
) throws(LibvirtError) -> [T] {
    if count < 0 { throw LibvirtError.takeLast() }
    guard let array else { return [] }
    defer { free(array) }
    var result: [T] = []
    result.reserveCapacity(Int(count))
    for index in 0..<Int(count) {
        if let handle = array[index] { result.append(wrap(handle)) }
    }
    return result
}

/// Calls `body` with a C string for `string`, or NULL when it is nil.
func withOptionalCString<R>(_ string: String?, _ body: (UnsafePointer<CChar>?) -> R) -> R {
    guard let string else { return body(nil) }
    return string.withCString { body($0) }
}

/// Blocks the calling thread for `duration`.
func sleepFor(_ duration: Duration) {
    let (seconds, attoseconds) = duration.components
    var request = timespec(tv_sec: Int(seconds), tv_nsec: Int(attoseconds / 1_000_000_000))
    var remaining = timespec()
    while nanosleep(&request, &remaining) != 0 {
        request = remaining
    }
}

/// Calls `body` with a C array of C strings (NULL and 0 when `strings` is empty).
func withCStringArray<R>(
    _ strings: [String], _ body: (UnsafeMutablePointer<UnsafePointer<CChar>?>?, UInt32) -> R
) -> R {
    if strings.isEmpty { return body(nil, 0) }
    let copies = strings.map { strdup($0) }
    defer { for copy in copies { free(copy) } }
    var pointers = copies.map { UnsafePointer($0) }
    return pointers.withUnsafeMutableBufferPointer { body($0.baseAddress, UInt32(strings.count)) }
}

/// Wraps the handle a "get related object" call returned, or returns nil when
/// the call failed only because there is no such object (`missing`); any
/// other failure throws.
func optionalHandle<T>(
    _ pointer: OpaquePointer?, missing: LibvirtError.Code, _ wrap: (OpaquePointer) -> T
) throws(LibvirtError) -> T? {
    guard let pointer else {
        let error = LibvirtError.takeLast()
        if error.code == missing { return nil }
        throw error
    }
    return wrap(pointer)
}
