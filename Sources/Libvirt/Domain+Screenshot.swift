import Clibvirt

#if canImport(Glibc)
import Glibc
#endif

/// A screenshot of a domain's display as libvirt sends it (QEMU: a PPM image).
public struct DomainScreenshot: Sendable {
    /// The MIME type libvirt names for the bytes, e.g. `image/x-portable-pixmap`.
    public var mimeType: String
    public var bytes: [UInt8]
}

extension Domain {
    /// Takes a screenshot of `screen` (0: the first video device) and reads it from a libvirt
    /// stream to the end. Throws when the domain has no video device or is not running. The
    /// stream is created, finished (or aborted on a failure) and freed here.
    /// See also https://libvirt.org/html/libvirt-libvirt-domain.html#virDomainScreenshot
    public func screenshot(screen: UInt32 = 0, limit: Int = 64 << 20) throws(LibvirtError) -> DomainScreenshot {
        let stream = try check(virStreamNew(connection.handle, 0))
        defer { virStreamFree(stream) }
        let mimeType: String
        do throws(LibvirtError) {
            mimeType = try takeString(virDomainScreenshot(handle, stream, screen, 0))
        } catch {
            virStreamAbort(stream)
            throw error
        }
        var bytes: [UInt8] = []
        var buffer = [CChar](repeating: 0, count: 256 << 10)
        while true {
            let count = buffer.withUnsafeMutableBufferPointer { virStreamRecv(stream, $0.baseAddress, $0.count) }
            if count < 0 {
                let error = LibvirtError.takeLast()
                virStreamAbort(stream)
                throw error
            }
            if count == 0 { break }
            bytes.append(contentsOf: buffer[0..<Int(count)].map { UInt8(bitPattern: $0) })
            if bytes.count > limit {
                virStreamAbort(stream)
                throw LibvirtError(code: .internalError, domain: .swiftWrapper, message: "the screenshot is larger than \(limit) bytes")
            }
        }
        try check(virStreamFinish(stream))
        return DomainScreenshot(mimeType: mimeType, bytes: bytes)
    }
}
