import Foundation
import SnapshotEngine

/// The JSON shape of storage usage (`usage --json`): per VM, and the total.
struct UsageJSON: Encodable {
    struct VM: Encodable {
        var vm: String
        var uuid: String
        var snapshots: Int
        var memoryBytes: Int64
        var layerBytes: Int64
        var sharedBytes: Int64
        var exclusiveBytes: Int64

        init(_ usage: VMUsage) {
            vm = usage.vm; uuid = usage.uuid; snapshots = usage.snapshots; memoryBytes = usage.memoryBytes
            layerBytes = usage.layerBytes; sharedBytes = usage.sharedBytes; exclusiveBytes = usage.exclusiveBytes
        }
    }

    var vms: [VM]
    var totalBytes: Int64

    init(_ usage: [VMUsage]) {
        vms = usage.map(VM.init)
        totalBytes = usage.reduce(0) { $0 + $1.totalBytes }
    }
}
