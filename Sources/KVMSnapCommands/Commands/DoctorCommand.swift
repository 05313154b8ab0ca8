import ArgumentParser
import Foundation
import KVMSnapCore
import Libvirt
import SnapshotCatalog
import SnapshotEngine

/// `kvmsnap doctor`: reads the host's facts (libvirt, QEMU, store, qemu-img, AppArmor/SELinux,
/// catalog) and prints ``DoctorRules``' verdict on them. Changes nothing: the libvirt connection
/// is read-only and the catalog is checked read-only (none is created).
struct DoctorCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "doctor",
        abstract: "Check the host: libvirt, QEMU, daemon, store, qemu-img, AppArmor/SELinux, catalog integrity.",
        discussion: "Each line is ok, warn or fail with a hint. Exit status 1 when any check fails. Changes nothing.")
    @OptionGroup var global: GlobalOptions

    struct Report: Encodable {
        var status: DoctorCheck.Status
        var checks: [DoctorCheck]
    }

    func run() throws {
        let uri = global.resolvedURI
        if let refusal = HypervisorURI(uri).refusal { throw CommandFailure("\(refusal) (nothing was changed)", exitCode: 64) }
        try Context.requireLocalHypervisor(uri)
        var checks = DoctorRules.checks(HostProbe.facts(uri: uri, catalog: global.resolvedCatalog, store: global.resolvedStore))
        if let alerts = HostProbe.alerts(global.resolvedCatalog) { checks.append(alerts) }
        let status = DoctorRules.overall(checks)
        if global.json {
            Output.json(Report(status: status, checks: checks))
        } else {
            let width = checks.map(\.name.count).max() ?? 0
            func pad(_ text: String, _ length: Int) -> String { text.padding(toLength: length, withPad: " ", startingAt: 0) }
            for check in checks {
                Output.line("\(pad(check.status.rawValue, 4))  \(pad(check.name, width))  \(check.detail)")
                if let hint = check.hint, check.status != .ok { Output.line("      \(pad("", width))  hint: \(hint)") }
            }
        }
        let failed = checks.filter { $0.status == .fail }
        if !failed.isEmpty {
            let names = failed.map(\.name).joined(separator: ", ")
            throw CommandFailure("doctor: \(failed.count) check\(failed.count == 1 ? "" : "s") failed: \(names)", exitCode: 1)
        }
    }
}

/// Reads the facts `kvmsnap doctor` judges. Every probe catches its own failure into the facts:
/// a broken part of the host is a line, never an abort.
enum HostProbe {
    static func facts(uri: String, catalog: String, store: String) -> HostFacts {
        var daemon = HostFacts.Daemon.reachable
        var libvirt: SoftwareVersion?, qemu: SoftwareVersion?, capabilities: HostCapabilities?
        do {
            let connection = try Connection(uri: uri, readOnly: true)
            libvirt = try? version(connection.libraryVersion())
            qemu = try? version(connection.hypervisorVersion())
            capabilities = (try? connection.capabilities()).map(HostCapabilities.init(xml:))
        } catch {
            daemon = .unreachable(error: error.message.isEmpty ? "\(error)" : error.message)
        }
        return HostFacts(
            effectiveUserID: geteuid(), uri: uri, daemon: daemon, libvirtVersion: libvirt,
            clientLibraryVersion: try? version(Connection.localLibraryVersion()), qemuVersion: qemu,
            capabilities: capabilities,
            virtlogdSocketPresent: uri == "qemu:///system" ? FileManager.default.fileExists(atPath: "/run/libvirt/virtlogd-sock") : nil,
            store: storeFacts(store), qemuImg: qemuImg(),
            appArmorEnabled: try? String(contentsOfFile: "/sys/module/apparmor/parameters/enabled", encoding: .utf8),
            seLinuxEnforce: try? String(contentsOfFile: "/sys/fs/selinux/enforce", encoding: .utf8),
            catalog: catalogState(catalog))
    }

    /// The alert outbox: a warning while deliveries are failing (retrying or given up).
    static func alerts(_ catalog: String) -> DoctorCheck? {
        let counts: [NotifyDeliveryState: Int]
        do {
            guard let read = try Catalog.notifyDeliveryCounts(path: catalog), !read.isEmpty else { return nil }
            counts = read
        } catch {
            return DoctorCheck("alerts", .warn, "cannot read the alert deliveries: \(error.message)")
        }
        let sent = counts[.sent] ?? 0, pending = counts[.pending] ?? 0, failed = counts[.failed] ?? 0
        let detail = "\(sent) sent, \(pending) pending, \(failed) given up"
        guard pending + failed > 0 else { return DoctorCheck("alerts", .ok, detail) }
        return DoctorCheck(
            "alerts", .warn, detail,
            hint: "'kvmsnap notify log' shows each failed delivery and its error; pending ones are retried by every command and run-due")
    }

    static func version(_ v: LibvirtVersion) -> SoftwareVersion { SoftwareVersion(v.major, v.minor, v.release) }

    /// Space (statvfs) and file system type (mount table) of the store, or of its nearest
    /// existing parent when it does not exist yet.
    static func storeFacts(_ path: String) -> HostFacts.Store {
        var examined = path
        while !FileManager.default.fileExists(atPath: examined), examined != "/" {
            examined = (examined as NSString).deletingLastPathComponent
            if examined.isEmpty { examined = "/" }
        }
        var info = statvfs()
        guard statvfs(examined, &info) == 0 else {
            return HostFacts.Store(
                path: path, examinedPath: examined, filesystemType: nil, freeBytes: 0, totalBytes: 0,
                error: String(cString: strerror(errno)))
        }
        let resolved = URL(fileURLWithPath: examined).resolvingSymlinksInPath().path
        let type = (try? String(contentsOfFile: "/proc/self/mountinfo", encoding: .utf8)).flatMap {
            MountTable.filesystemType(of: resolved, mountinfo: $0)
        }
        let block = Int64(info.f_frsize)
        return HostFacts.Store(
            path: path, examinedPath: examined, filesystemType: type,
            freeBytes: Int64(info.f_bavail) * block, totalBytes: Int64(info.f_blocks) * block)
    }

    static func qemuImg() -> HostFacts.QemuImg {
        guard let path = ImageTool.executablePath else { return .missing }
        do { return .found(path: path, output: try ImageTool.versionText()) } catch { return .broken(path: path, error: error.message) }
    }

    static func catalogState(_ path: String) -> HostFacts.CatalogState {
        do {
            switch try Catalog.integrityCheck(path: path) {
            case nil: return .missing(path: path)
            case .intact: return .intact(path: path)
            case .damaged(let problems): return .damaged(path: path, problems: problems)
            }
        } catch {
            return .unreadable(path: path, error: error.message)
        }
    }
}
