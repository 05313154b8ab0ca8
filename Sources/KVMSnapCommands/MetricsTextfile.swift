import Foundation
import Prometheus
import SnapshotEngine

/// Prometheus text metrics for node_exporter's textfile collector, rendered with
/// swift-prometheus's registry and written atomically (temp file in the same directory + rename),
/// so the collector never reads a half-written file.
enum MetricsTextfile {
    static func render(_ metrics: SnapshotEngine.Metrics, runDueDuration: Double?) -> String {
        let registry = PrometheusCollectorRegistry()
        func gauge(_ name: String, _ unit: String?, _ help: String, _ labels: [(String, String)]) -> Gauge {
            registry.makeGauge(
                descriptor: MetricNameDescriptor(namespace: "kvmsnap", metricName: name, unitName: unit ?? "", helpText: help),
                labels: labels)
        }
        for vm in metrics.vms {
            let labels = [("vm", vm.name), ("uuid", vm.uuid)]
            if let last = vm.lastSnapshotAt {
                gauge("last_snapshot_timestamp", "seconds", "Creation time of the newest ready snapshot (Unix time).", labels)
                    .set(last.timeIntervalSince1970)
            }
            gauge("snapshots", nil, "Ready snapshots of the VM.", labels).set(Int64(vm.snapshots))
            gauge("snapshot", "bytes", "Bytes of memory images and disk layers kvmsnap keeps for the VM (as 'kvmsnap usage').", labels)
                .set(vm.bytes)
            if let last = vm.lastDrillSuccessAt {
                gauge("drill_last_success_timestamp", "seconds", "End of the newest passing restore drill (Unix time).", labels)
                    .set(last.timeIntervalSince1970)
            }
            if let seconds = vm.drillRecoverySeconds {
                gauge("drill_recovery", "seconds", "Measured recovery time of the newest passing drill: start to last passing check.", labels)
                    .set(seconds)
            }
        }
        for age in metrics.restorePointAges {
            gauge(
                "newest_restore_point_age", "seconds", "Age of the VM's newest ready restore point (tier local: snapshot; vault: copy in a vault).",
                [("vm", age.vm), ("tier", age.tier)]
            ).set(age.seconds)
        }
        // The usual kinds are always present, so an alert can compare against 0.
        var failed = metrics.failedJobs
        for kind in ["create", "delete", "revert", "restore", "run-due"] where failed[kind] == nil { failed[kind] = 0 }
        for (kind, count) in failed.sorted(by: { $0.key < $1.key }) {
            gauge("failed_jobs", nil, "Failed jobs in kvmsnap's journal, by kind.", [("kind", kind)]).set(Int64(count))
        }
        if let runDueDuration {
            gauge("run_due_duration", "seconds", "Wall-clock duration of the last run-due.", []).set(runDueDuration)
        }
        return registry.emitToString()
    }

    /// Refuses a target that exists and is not a regular file (a symlink, device, FIFO,
    /// directory): kvmsnap only ever replaces a regular file. Exit 64, nothing written.
    static func checkTarget(_ path: String) throws {
        var info = stat()
        guard lstat(path, &info) == 0 else { return }
        guard info.st_mode & S_IFMT == S_IFREG else {
            throw CommandFailure(
                "--metrics-textfile \(path) exists and is not a regular file (\(fileType(info.st_mode))): refusing to replace it", exitCode: 64)
        }
    }

    static func fileType(_ mode: mode_t) -> String {
        switch mode & S_IFMT {
        case S_IFLNK: "a symbolic link"
        case S_IFDIR: "a directory"
        case S_IFCHR: "a character device"
        case S_IFBLK: "a block device"
        case S_IFIFO: "a FIFO"
        case S_IFSOCK: "a socket"
        default: "not a regular file"
        }
    }

    /// Writes `text` to `path` atomically (mode 0644): a new file of its own in the target's
    /// directory (O_EXCL|O_NOFOLLOW: never a file or link someone put there), renamed over the
    /// target. rename(2) replaces the name itself, so a link swapped in meanwhile is never followed.
    static func write(_ text: String, to path: String) throws {
        try checkTarget(path)
        let url = URL(fileURLWithPath: path)
        var rng = SystemRandomNumberGenerator()
        let temp = url.deletingLastPathComponent()
            .appendingPathComponent(".\(url.lastPathComponent).\(getpid()).\(String(rng.next() & 0xFFFF_FFFF, radix: 16)).tmp").path
        func failure(_ reason: String) -> CommandFailure { CommandFailure("cannot write metrics to \(path): \(reason)") }
        let fd = open(temp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0o644)
        guard fd >= 0 else { throw failure(String(cString: strerror(errno))) }
        var bytes = Array(text.utf8)[...]
        var error: Int32 = fchmod(fd, 0o644) == 0 ? 0 : errno
        while error == 0, !bytes.isEmpty {
            let written = bytes.withUnsafeBytes { Foundation.write(fd, $0.baseAddress, $0.count) }
            if written < 0 { if errno != EINTR { error = errno } } else { bytes = bytes.dropFirst(written) }
        }
        if close(fd) != 0, error == 0 { error = errno }
        if error == 0, rename(temp, path) != 0 { error = errno }
        if error != 0 {
            unlink(temp)
            throw failure(String(cString: strerror(error)))
        }
    }
}
