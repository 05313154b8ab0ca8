import Foundation
import Libvirt

/// Small host-side helpers for the Libvirt integration tests (qemu-img, virsh, files, polling).
enum HostTools {
    /// `qemu-img info -U --output=json IMAGE`, decoded.
    static func imageInfo(_ path: String) throws -> [String: Any] {
        let json = try TestGuest.run("qemu-img", ["info", "-U", "--output=json", path])
        guard let object = try JSONSerialization.jsonObject(with: Data(json.utf8)) as? [String: Any] else {
            throw TestGuestError("qemu-img info \(path): not a JSON object: \(json)")
        }
        return object
    }

    /// The image's backing file as recorded in its header, or nil when it has none.
    static func backingFile(_ path: String) throws -> String? {
        try imageInfo(path)["backing-filename"] as? String
    }

    /// The image's virtual size in bytes.
    static func virtualSize(_ path: String) throws -> UInt64 {
        guard let size = try imageInfo(path)["virtual-size"] as? NSNumber else {
            throw TestGuestError("qemu-img info \(path): no virtual-size")
        }
        return size.uint64Value
    }

    /// Permission bits (`st_mode & 0o7777`) of a file.
    static func permissions(_ path: String) throws -> mode_t {
        var info = stat()
        guard stat(path, &info) == 0 else {
            throw TestGuestError("stat \(path): \(String(cString: strerror(errno)))")
        }
        return info.st_mode & 0o7777
    }

    /// `virsh -c qemu:///system ARGS...` standard output.
    static func virsh(_ args: [String]) throws -> String {
        try TestGuest.run("virsh", ["-c", IntegrationEnvironment.uri] + args)
    }

    /// Polls `condition` every 100 ms until it holds or `timeout` seconds pass; returns whether it held.
    static func wait(timeout: Double, _ condition: () throws -> Bool) rethrows -> Bool {
        let deadline = Date().addingTimeInterval(timeout)
        while true {
            if try condition() { return true }
            if Date() >= deadline { return false }
            usleep(100_000)
        }
    }
}

/// Thread-safe list of lifecycle events seen by a callback on libvirt's event loop thread.
final class LifecycleEventLog: @unchecked Sendable {
    private let lock = NSLock()
    private var events: [LifecycleEvent] = []
    private var names: Set<String> = []

    /// Records an event and the name of the domain the callback was handed.
    func append(_ event: LifecycleEvent, domainName: String) {
        lock.withLock {
            events.append(event)
            names.insert(domainName)
        }
    }
    var all: [LifecycleEvent] { lock.withLock { events } }
    var domainNames: Set<String> { lock.withLock { names } }

    func contains(_ predicate: (LifecycleEvent) -> Bool) -> Bool { all.contains(where: predicate) }
}

extension LifecycleEvent {
    var isSuspended: Bool { if case .suspended = self { true } else { false } }
    var isResumed: Bool { if case .resumed = self { true } else { false } }
}
