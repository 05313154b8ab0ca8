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
            registry.makeGauge(descriptor: MetricNameDescriptor(namespace: "kvmsnap", metricName: name, unitName: unit ?? "", helpText: help),
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

    /// Writes `text` to `path` atomically (mode 0644).
    static func write(_ text: String, to path: String) throws {
        let url = URL(fileURLWithPath: path)
        let temp = url.deletingLastPathComponent().appendingPathComponent(".\(url.lastPathComponent).\(getpid()).tmp")
        do {
            try Data(text.utf8).write(to: temp)
            chmod(temp.path, 0o644)
            guard rename(temp.path, path) == 0 else {
                let reason = String(cString: strerror(errno))
                unlink(temp.path)
                throw CommandFailure("cannot write metrics to \(path): \(reason)")
            }
        } catch let failure as CommandFailure {
            throw failure
        } catch {
            unlink(temp.path)
            throw CommandFailure("cannot write metrics to \(path): \(error.localizedDescription)")
        }
    }
}
