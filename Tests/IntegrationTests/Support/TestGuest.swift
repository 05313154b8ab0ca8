import Foundation
import Libvirt
import SnapshotEngine
import Testing

/// Facts about the integration environment. With `KVMSNAP_REQUIRE_INTEGRATION=1` (set by
/// scripts/test.sh and CI) a missing libvirtd or test guest fails the tests instead of skipping.
enum IntegrationEnvironment {
    static let uri = "qemu:///system"
    static let guestDirectory = ProcessInfo.processInfo.environment["KVMSNAP_TEST_GUEST_DIR"] ?? "/var/cache/kvmsnap/test-guest"
    static let required = ProcessInfo.processInfo.environment["KVMSNAP_REQUIRE_INTEGRATION"] == "1"
    static let packageRoot: String = {
        var url = URL(fileURLWithPath: #filePath)
        for _ in 0..<4 { url.deleteLastPathComponent() }
        return url.path
    }()
    /// Per-run scratch space under a directory QEMU (libvirt-qemu) can traverse.
    static let scratchRoot = "/var/lib/kvmsnap-tests"

    static var available: Bool {
        if required { return true }
        return FileManager.default.fileExists(atPath: guestDirectory + "/vmlinuz") && (try? Connection(uri: uri)) != nil
    }
}

/// A running (or defined) test guest with its own disks, console log, store and catalog.
/// Everything it creates is removed by `destroy()`, which tests call in `defer`.
final class TestGuest: @unchecked Sendable {
    let name: String
    let directory: String
    private(set) var connection: Connection
    let consoleLog: String
    var diskPaths: [String]
    /// The UEFI variable store libvirt creates from the template on first start (uefi guests).
    let nvramPath: String?
    private(set) var domain: Domain
    /// The shared side of ``LibvirtdGate`` while the guest exists.
    private var gate: LibvirtdGate.SharedHold?
    static let ovmfCode = "/usr/share/OVMF/OVMF_CODE_4M.fd"
    static let ovmfVarsTemplate = "/usr/share/OVMF/OVMF_VARS_4M.fd"

    /// Creates disks (`diskMiB` each, vda, vdb, ...), defines the domain and starts it unless `start` is false.
    /// `ext4MiB`: one more disk after `diskMiB`, formatted ext4 on the host and mounted by the
    /// guest at /mnt/data (`kvmsnap.ext4=`), for filesystem-freeze tests.
    /// `uefi`: boots through OVMF with a per-guest NVRAM file (``nvramPath``) made from
    /// ``ovmfVarsTemplate``; the kernel is still loaded directly.
    init(
        tag: String, diskMiB: [Int] = [64], memoryMiB: Int = 256, cmdline: String = "", ext4MiB: Int? = nil,
        uefi: Bool = false, start: Bool = true
    ) throws {
        gate = try LibvirtdGate.shared()
        let id = String(UUID().uuidString.prefix(8)).lowercased()
        name = "kvmsnap-guesttest-\(tag)-\(id)"
        directory = "\(IntegrationEnvironment.scratchRoot)/\(name)"
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        chmod(IntegrationEnvironment.scratchRoot, 0o711)
        chmod(directory, 0o711)
        consoleLog = "\(directory)/console.log"
        connection = try Connection(uri: IntegrationEnvironment.uri)
        diskPaths = []
        var disksXML = ""
        for (index, size) in diskMiB.enumerated() {
            let target = "vd" + String(UnicodeScalar(UInt8(97 + index)))
            let path = "\(directory)/\(target).qcow2"
            try Self.run("qemu-img", ["create", "-q", "-f", "qcow2", path, "\(size)M"])
            diskPaths.append(path)
            disksXML += Self.diskXML(path: path, target: target)
        }
        var cmdline = cmdline
        if let ext4MiB {
            let target = "vd" + String(UnicodeScalar(UInt8(97 + diskMiB.count)))
            let raw = "\(directory)/\(target).raw", path = "\(directory)/\(target).qcow2"
            try Self.run("truncate", ["-s", "\(ext4MiB)M", raw])
            try Self.run("mkfs.ext4", ["-q", "-F", "-L", "kvmsnap-data", raw])
            try Self.run("qemu-img", ["convert", "-O", "qcow2", raw, path])
            unlink(raw)
            diskPaths.append(path)
            disksXML += Self.diskXML(path: path, target: target)
            cmdline += " kvmsnap.ext4=\(target)"
        }
        let template = try String(contentsOfFile: IntegrationEnvironment.packageRoot + "/Fixtures/test-guest.xml", encoding: .utf8)
        let xml =
            template
            .replacingOccurrences(of: "@NAME@", with: name)
            .replacingOccurrences(of: "@TYPE@", with: "qemu")
            .replacingOccurrences(of: "@MEMORY_MIB@", with: "\(memoryMiB)")
            .replacingOccurrences(of: "@KERNEL@", with: IntegrationEnvironment.guestDirectory + "/vmlinuz")
            .replacingOccurrences(of: "@INITRD@", with: IntegrationEnvironment.guestDirectory + "/initrd.img")
            .replacingOccurrences(of: "@CMDLINE_EXTRA@", with: cmdline)
            .replacingOccurrences(of: "@CONSOLE_LOG@", with: consoleLog)
            .replacingOccurrences(of: "@DISKS@", with: disksXML)
            .replacingOccurrences(
                of: "<type arch='x86_64' machine='pc'>hvm</type>",
                with: uefi
                    ? """
                    <type arch='x86_64' machine='pc'>hvm</type>
                        <loader readonly='yes' type='pflash'>\(Self.ovmfCode)</loader>
                        <nvram template='\(Self.ovmfVarsTemplate)'>\(directory)/nvram_VARS.fd</nvram>
                    """ : "<type arch='x86_64' machine='pc'>hvm</type>")
        nvramPath = uefi ? "\(directory)/nvram_VARS.fd" : nil
        domain = try connection.defineDomain(xml: xml)
        if start { try domain.start() }
    }

    static func diskXML(path: String, target: String) -> String {
        """
            <disk type='file' device='disk'>
              <driver name='qemu' type='qcow2'/>
              <source file='\(path)'/>
              <target dev='\(target)' bus='virtio'/>
            </disk>

        """
    }

    /// Re-looks the domain up (after kvmsnap redefined or restored it).
    func refresh() throws { domain = try connection.lookupDomain(name: name) }

    /// A new connection (after libvirtd was restarted: the old one is dead), and the domain again.
    func reconnect() throws {
        connection = try Connection(uri: IntegrationEnvironment.uri)
        try refresh()
    }

    var isRunning: Bool { (try? connection.lookupDomain(name: name).state().state) == .running }

    /// Destroys and undefines the domain, removes its files and any kvmsnap store under it.
    func destroy() {
        if let domain = try? connection.lookupDomain(name: name) {
            try? domain.destroy()
            try? domain.undefine(flags: [.nvram, .snapshotsMetadata, .checkpointsMetadata])
        }
        try? FileManager.default.removeItem(atPath: directory)
        gate = nil
    }

    /// All `counter=N` values the console shows since the last start/restore, in order.
    func consoleCounters() -> [Int] { Self.counters(inLog: consoleLog) }

    /// All `counter=N` values in a console log file, in order.
    static func counters(inLog path: String) -> [Int] {
        guard let text = try? String(contentsOfFile: path, encoding: .utf8) else { return [] }
        return text.split(whereSeparator: \.isNewline).compactMap { line in
            guard let range = line.range(of: "counter=") else { return nil }
            return Int(line[range.upperBound...].prefix { $0.isNumber })
        }
    }

    var latestCounter: Int? { consoleCounters().last }

    /// Waits until the console shows a counter ≥ `value`; returns it.
    @discardableResult
    func waitForCounter(atLeast value: Int, timeout: Double = 60) throws -> Int {
        let deadline = Date().addingTimeInterval(timeout)
        while Date() < deadline {
            if let latest = latestCounter, latest >= value { return latest }
            usleep(200_000)
        }
        throw TestGuestError("guest \(name) did not reach counter \(value) within \(timeout) s; console: \(consoleTail())")
    }

    /// Waits until the guest has counted two past the last counter seen (it runs on, and what it
    /// wrote since then lands in the next snapshot); returns the counter reached.
    @discardableResult
    func waitUntilStillCounting() throws -> Int {
        try waitForCounter(atLeast: (latestCounter ?? 0) + 2)
    }

    /// Waits until the console shows any counter after a start/restore; returns the first one.
    func waitForFirstCounter(timeout: Double = 60) throws -> Int {
        let deadline = Date().addingTimeInterval(timeout)
        while Date() < deadline {
            if let first = consoleCounters().first { return first }
            usleep(200_000)
        }
        throw TestGuestError("guest \(name) printed no counter within \(timeout) s; console: \(consoleTail())")
    }

    /// Waits until libvirt shows the guest agent's channel as connected.
    func waitForAgent(timeout: Double = 90) throws {
        let deadline = Date().addingTimeInterval(timeout)
        while Date() < deadline {
            if let xml = try? connection.lookupDomain(name: name).xml(flags: []),
                xml.components(separatedBy: "<channel").contains(where: { $0.contains("org.qemu.guest_agent.0") && $0.contains("state='connected'") })
            {
                return
            }
            usleep(300_000)
        }
        throw TestGuestError("guest agent of \(name) did not connect within \(timeout) s; console: \(consoleTail())")
    }

    /// `guest-fsfreeze-status` through the guest agent (virsh): "frozen" or "thawed".
    func fsFreezeStatus() throws -> String {
        let out = try Self.run("virsh", ["-c", IntegrationEnvironment.uri, "qemu-agent-command", name, #"{"execute":"guest-fsfreeze-status"}"#])
        guard let object = try JSONSerialization.jsonObject(with: Data(out.utf8)) as? [String: Any], let status = object["return"] as? String else {
            throw TestGuestError("unexpected guest-fsfreeze-status reply: \(out)")
        }
        return status
    }

    /// Runs `/bin/sh -c command` in the guest through its agent (`guest-exec`, then
    /// `guest-exec-status` until it exited): its exit status and stdout + stderr.
    func exec(_ command: String, timeout: Double = 60) throws -> (status: Int, output: String) {
        func agent(_ request: [String: Any]) throws -> [String: Any] {
            let json = String(decoding: try JSONSerialization.data(withJSONObject: request), as: UTF8.self)
            let reply = try domain.agentCommand(json, timeoutSeconds: 10)
            guard let object = try JSONSerialization.jsonObject(with: Data(reply.utf8)) as? [String: Any], let value = object["return"] as? [String: Any]
            else { throw TestGuestError("unexpected agent reply: \(reply)") }
            return value
        }
        let started = try agent(["execute": "guest-exec", "arguments": ["path": "/bin/sh", "arg": ["-c", command], "capture-output": true]])
        guard let pid = started["pid"] as? Int else { throw TestGuestError("guest-exec returned no pid: \(started)") }
        let deadline = Date().addingTimeInterval(timeout)
        while Date() < deadline {
            let status = try agent(["execute": "guest-exec-status", "arguments": ["pid": pid]])
            if status["exited"] as? Bool == true {
                let text = { (key: String) in (status[key] as? String).flatMap { Data(base64Encoded: $0) }.map { String(decoding: $0, as: UTF8.self) } ?? "" }
                return (status["exitcode"] as? Int ?? -1, text("out-data") + text("err-data"))
            }
            usleep(200_000)
        }
        throw TestGuestError("`\(command)` did not finish in \(name) within \(timeout) s")
    }

    func consoleTail() -> String {
        let text = (try? String(contentsOfFile: consoleLog, encoding: .utf8)) ?? "<no console log>"
        return String(text.suffix(400))
    }

    /// The counter record in sector 0 of an image (read through its backing chain, without locking).
    static func diskCounter(_ imagePath: String) throws -> Int? {
        let out = try run("qemu-io", ["-r", "-U", "-c", "read -v 0 32", imagePath])
        var bytes: [UInt8] = []
        for line in out.split(separator: "\n") where line.hasPrefix("0000") {
            let fields = line.split(separator: " ", omittingEmptySubsequences: true).dropFirst()
            for field in fields.prefix(16) { if let b = UInt8(field, radix: 16), field.count == 2 { bytes.append(b) } }
        }
        let text = String(decoding: bytes.prefix { $0 != 0 }, as: UTF8.self)
        guard text.hasPrefix("KVMSNAP-COUNTER ") else { return nil }
        return Int(text.dropFirst("KVMSNAP-COUNTER ".count).prefix { $0.isNumber })
    }

    /// The image the domain's disk `target` currently uses.
    func currentSource(_ target: String = "vda") throws -> String {
        let xml = try (try connection.lookupDomain(name: name)).xml(flags: [])
        let definition = try DomainDefinition(xml: xml)
        guard let path = definition.disks.first(where: { $0.target == target })?.path else {
            throw TestGuestError("no disk \(target)")
        }
        return path
    }

    @discardableResult
    static func run(_ program: String, _ args: [String]) throws -> String {
        let outcome = try ExternalProcess.run(program, args)
        guard outcome.succeeded else {
            throw TestGuestError("\(program) \(args.joined(separator: " ")) failed: \(outcome.standardError)")
        }
        return outcome.standardOutput
    }
}

struct TestGuestError: Error, CustomStringConvertible {
    var description: String
    init(_ description: String) { self.description = description }
}

extension TestGuest {
    /// The guest writes `mib` MiB of random data to vdb from offset 1 MiB (`write N TAG` on its
    /// control channel `org.kvmsnap.control.0`); returns once it reports the data is in the image.
    func guestWrite(mib: Int, tag: String, timeout: Int = 300) throws {
        let xml = try domain.xml()
        guard let range = xml.range(of: "name='org.kvmsnap.control.0'"),
            let pathStart = xml[..<range.lowerBound].range(of: "path='", options: .backwards)
        else { throw GuestControlError("no control channel in the live XML") }
        let path = String(xml[pathStart.upperBound...].prefix { $0 != "'" })
        let fd = socket(AF_UNIX, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { throw GuestControlError("socket: errno \(errno)") }
        defer { close(fd) }
        var address = sockaddr_un()
        address.sun_family = sa_family_t(AF_UNIX)
        withUnsafeMutableBytes(of: &address.sun_path) { raw in
            for (i, byte) in path.utf8.prefix(raw.count - 1).enumerated() { raw[i] = byte }
        }
        let connected = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_un>.size)) }
        }
        guard connected == 0 else { throw GuestControlError("connect \(path): errno \(errno)") }
        var tv = timeval(tv_sec: timeout, tv_usec: 0)
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, socklen_t(MemoryLayout<timeval>.size))
        let command = Array("write \(mib) \(tag)\n".utf8)
        guard write(fd, command, command.count) == command.count else { throw GuestControlError("write: errno \(errno)") }
        var reply: [UInt8] = []
        var byte: UInt8 = 0
        while reply.last != UInt8(ascii: "\n") {
            guard read(fd, &byte, 1) == 1 else { throw GuestControlError("no reply to write \(mib) \(tag)") }
            reply.append(byte)
        }
        let text = String(decoding: reply, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)
        guard text == "wrote=\(tag)" else { throw GuestControlError("guest answered '\(text)' to write \(mib) \(tag)") }
    }
}

struct GuestControlError: Error, CustomStringConvertible {
    var description: String
    init(_ description: String) { self.description = description }
}
