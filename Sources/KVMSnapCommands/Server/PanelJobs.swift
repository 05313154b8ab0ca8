import Foundation
import HTTPTypes
import Hummingbird
import KVMSnapCore
import NIOCore
import ServiceLifecycle
import SnapshotEngine

/// Long operations of the panel (restore, prune, send, drill) and the live job stream.
///
/// Each runs on a thread of its own (it takes seconds to minutes); the request answers as
/// soon as the engine has journaled the job, with its id. Progress comes from the job journal
/// in the catalog, polled every 200 ms, so the stream also shows jobs started by the CLI or the
/// scheduler.
struct PanelJobs {
    let backend: PanelBackend
    static let pollInterval: Duration = .milliseconds(200)

    /// `POST /vms/{vm}/restore`: checks the snapshot and the typed confirmation (400, nothing
    /// changed), starts the restore and answers 202 `{"job": id}`.
    func startRestore(vm: String, body: PanelAPI.RestoreBody) async throws -> Response {
        try SnapshotEngine.validateName(body.snapshot)
        var options = RestoreOptions()
        options.safetySnapshot = body.safetySnapshot ?? true
        guard let target = RestoreTarget(rawValue: body.start ?? "running") else {
            throw PanelError(.badRequest, "start must be running, paused or off (nothing was changed)")
        }
        options.target = target
        let (domainName, newestJob) = try await jobMark(vm: vm)
        _ = try await backend.run { engine in try engine.snapshot(vm: vm, name: body.snapshot) }  // 404 before anything starts
        guard RestorePlan.confirmationMatches(typed: body.confirm, vmName: domainName) else {
            throw PanelError(.badRequest, "confirm '\(body.confirm)' does not match the VM name '\(domainName)'; nothing was changed")
        }
        let prepared = options
        return try await launch(.restore, vmName: domainName, after: newestJob) { engine in
            _ = try engine.restore(vm: vm, snapshot: body.snapshot, options: prepared)
        }
    }

    /// The VM's name as libvirt has it (the name its jobs are journaled under) and the newest
    /// job's id: a job with a higher id was started after this call.
    func jobMark(vm: String) async throws -> (name: String, newestJob: Int64) {
        try await backend.run { engine in (try engine.domain(vm).name, try engine.jobs(limit: 1).first?.id ?? 0) }
    }

    /// Runs `work` on a thread of its own (it takes seconds to minutes) and answers 202
    /// `{"job": id}` as soon as the journal shows its job: the first job of `kind` of the VM
    /// newer than `newestJob`. When `work` fails before it journaled a job (refused input, a
    /// busy VM), the answer is that error: nothing was started.
    func launch(
        _ kind: JobKind, vmName: String, after newestJob: Int64, _ work: @escaping @Sendable (SnapshotEngine) throws -> Void
    ) async throws -> Response {
        let engine = try await backend.blocking { try backend.engine() }
        let outcome = RestoreOutcome()
        let thread = Thread {
            do {
                try work(engine)
                outcome.finish(nil)
            } catch {
                outcome.finish(error)
            }
        }
        thread.start()
        let deadline = ContinuousClock.now + .seconds(60)
        while ContinuousClock.now < deadline {
            let job = try await backend.run { engine in
                try engine.jobs(vm: vmName, limit: 500).last { $0.kind == kind.rawValue && ($0.id ?? 0) > newestJob }
            }
            if let job, let id = job.id { return try PanelResponse.json(["job": id], status: .accepted) }
            if let error = outcome.error { throw PanelError.from(error) }
            try await Task.sleep(for: .milliseconds(50))
        }
        throw PanelError(.internalServerError, "the \(kind.rawValue) did not start within 60 s")
    }

    /// Server-sent events: `event: job` with a ``JobJSON`` each time a job's state or stage changes.
    /// With `only`, the stream ends once that job is no longer running; without, it follows the
    /// 50 newest jobs for at most an hour.
    func events(only id: Int64?) -> Response {
        var headers = PanelResponse.headers(contentType: "text/event-stream")
        headers[HTTPField.Name("X-Accel-Buffering")!] = "no"  // nginx: do not buffer the stream
        let backend = backend
        return Response(
            status: .ok, headers: headers,
            body: ResponseBody { writer in
                var seen: [Int64: String] = [:]
                let end = ContinuousClock.now + .seconds(3600)
                var lastWrite = ContinuousClock.now
                try await writer.write(ByteBuffer(string: ": kvmsnap job stream\nretry: 1000\n\n"))
                // Ends with the server (SIGTERM waits for open responses) or after an hour.
                while ContinuousClock.now < end, !Task.isShuttingDownGracefully {
                    // A comment every 5 s: a client that went away is noticed (the write fails).
                    if ContinuousClock.now - lastWrite > .seconds(5) {
                        try await writer.write(ByteBuffer(string: ": keepalive\n\n"))
                        lastWrite = ContinuousClock.now
                    }
                    let jobs: [JobJSON]
                    if let id {
                        guard let job = try await backend.job(id: id) else {
                            try await writer.write(ByteBuffer(string: "event: error\ndata: {\"error\":\"no such job\"}\n\n"))
                            break
                        }
                        jobs = [job]
                    } else {
                        jobs = try await backend.jobs(limit: 50)
                    }
                    for job in jobs.reversed() {
                        let key = "\(job.state)|\(job.stage ?? "")|\(job.error ?? "")"
                        guard let jobID = job.id, seen[jobID] != key else { continue }
                        seen[jobID] = key
                        var data = try Output.encode(job)
                        data.removeAll { $0 == UInt8(ascii: "\n") }
                        try await writer.write(ByteBuffer(string: "event: job\ndata: \(String(decoding: data, as: UTF8.self))\n\n"))
                        lastWrite = ContinuousClock.now
                    }
                    if id != nil, let job = jobs.first, job.state != "running" { break }
                    try await Task.sleep(for: Self.pollInterval)
                }
                try await writer.finish(nil)
            })
    }
}

/// How a background operation ended (nil error: it succeeded), read by the request that started it.
final class RestoreOutcome: @unchecked Sendable {
    private let lock = NSLock()
    private var ended = false
    private var failure: (any Error)?

    func finish(_ error: (any Error)?) {
        lock.withLock {
            ended = true; failure = error
        }
    }

    var error: (any Error)? { lock.withLock { ended ? failure : nil } }
}
