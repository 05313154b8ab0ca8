import Foundation

/// Cleaning up after a kvmsnap that died before its qemu-nbd could notice.
///
/// qemu-nbd ends by itself when its client leaves, but only a client that completed the
/// handshake; a kvmsnap killed between starting qemu-nbd and finishing the handshake leaves
/// one waiting. Each export's private directory therefore holds `owner` (the pid and start
/// time of the kvmsnap that made it), written before qemu-nbd starts, and every new export
/// first sweeps the directories of dead owners: their qemu-nbd (found by its socket path on
/// its command line) is killed and the directory removed.
extension NBDExport {
    static let directoryPrefix = "kvmsnap-nbd."
    static let ownerFile = "owner"
    /// A directory without an owner file younger than this is still being set up.
    static let setupGrace: TimeInterval = 60

    /// "PID STARTTIME" of a process (start time in clock ticks since boot, /proc/PID/stat
    /// field 22): tells a pid from a later process that reused it. nil when it is gone or a zombie.
    static func identity(of pid: pid_t) -> String? {
        guard let stat = try? String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8),
            let close = stat.lastIndex(of: ")")
        else { return nil }
        let fields = stat[stat.index(after: close)...].split(separator: " ")
        // fields[0] is the state (field 3); the start time is field 22.
        guard fields.count > 19, fields[0] != "Z", fields[0] != "X" else { return nil }
        return "\(pid) \(fields[19])"
    }

    /// Records this process as the owner of `directory` (before qemu-nbd starts in it).
    static func writeOwner(_ directory: String) throws(EngineError) {
        guard let me = identity(of: getpid()),
            FileManager.default.createFile(
                atPath: directory + "/" + ownerFile, contents: Data((me + "\n").utf8),
                attributes: [.posixPermissions: 0o600])
        else {
            throw EngineError(.io, "cannot write the owner file in \(directory)")
        }
    }

    /// Kills the qemu-nbd of every export directory under `base` whose owner is dead and removes
    /// those directories. Returns the pids it killed. Safe to run concurrently with live exports:
    /// a directory whose owner runs (or that is younger than a minute and has no owner yet) is left alone.
    @discardableResult
    public static func sweepOrphans(in base: String) -> [pid_t] {
        let names = (try? FileManager.default.contentsOfDirectory(atPath: base)) ?? []
        var killed: [pid_t] = []
        for name in names where name.hasPrefix(directoryPrefix) {
            let directory = base + "/" + name
            var st = stat()
            guard lstat(directory, &st) == 0, (st.st_mode & S_IFMT) == S_IFDIR, st.st_uid == getuid() else { continue }
            if let owner = try? String(contentsOfFile: directory + "/" + ownerFile, encoding: .utf8) {
                let text = owner.trimmingCharacters(in: .whitespacesAndNewlines)
                if let pid = pid_t(text.split(separator: " ").first ?? ""), identity(of: pid) == text { continue }
            } else if Date().timeIntervalSince1970 - TimeInterval(st.st_mtim.tv_sec) < setupGrace {
                continue
            }
            for pid in serverProcesses(socket: directory + "/nbd.sock") {
                kill(pid, SIGKILL)
                killed.append(pid)
            }
            try? FileManager.default.removeItem(atPath: directory)
        }
        return killed
    }

    /// qemu-nbd processes serving `socket` (per their command line).
    static func serverProcesses(socket: String) -> [pid_t] {
        let entries = (try? FileManager.default.contentsOfDirectory(atPath: "/proc")) ?? []
        let needle = "--socket=\(socket)"
        return entries.compactMap { entry -> pid_t? in
            guard let pid = pid_t(entry), let data = FileManager.default.contents(atPath: "/proc/\(entry)/cmdline") else { return nil }
            let arguments = data.split(separator: 0).map { String(decoding: $0, as: UTF8.self) }
            guard arguments.first.map({ ($0 as NSString).lastPathComponent == "qemu-nbd" }) == true, arguments.contains(needle) else { return nil }
            return pid
        }
    }
}

extension NBDExport {
    /// Marks `directory` as owned by this process, as an export's directory is (for tests of
    /// ``sweepOrphans(in:)``).
    public static func writeOwnerForTesting(_ directory: String) throws(EngineError) { try writeOwner(directory) }
}
