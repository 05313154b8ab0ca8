import Foundation
import Hummingbird
import KVMSnapCore
import SnapshotEngine

/// The JSON API under `/api/v1` (described by ``PanelOpenAPI``): the CLI's `--json` models,
/// through the CLI's encoder. Authentication and CSRF are checked before (``PanelResponder``).
struct PanelAPI {
    let backend: PanelBackend
    var jobs: PanelJobs { PanelJobs(backend: backend) }

    /// `path`: the segments after `/api/v1`.
    func route(_ request: Request, path: [String], valid: Bool) async throws -> Response {
        guard valid else { throw PanelError(.notFound, "no such endpoint") }
        let method = request.method
        if method == .get, let response = try await read(path, request) { return response }
        guard path.count >= 2, path[0] == "vms" else { throw PanelError(.notFound, "no such endpoint") }
        let vm = try Self.vmName(path[1])
        let rest = Array(path.dropFirst(2))
        switch (method, rest.count) {
        case (.get, 1) where rest == ["snapshots"]:
            return PanelResponse.data(try await backend.snapshotList(vm: vm), contentType: "application/json")
        case (.post, 1) where rest == ["snapshots"]: return try await create(vm: vm, request)
        case (.patch, 2) where rest[0] == "snapshots": return try await edit(vm: vm, snapshot: try Self.snapshotName(rest[1]), request)
        case (.delete, 2) where rest[0] == "snapshots":
            let name = try Self.snapshotName(rest[1])
            try await backend.run { engine in try engine.deleteSnapshot(vm: vm, name: name) }
            return Response(status: .noContent, headers: PanelResponse.headers(contentType: "application/json"))
        case (.post, 1) where rest == ["restore"]: return try await jobs.startRestore(vm: vm, body: try await Self.body(RestoreBody.self, request))
        case (.get, 1) where rest == ["policy"]:
            return PanelResponse.jsonData(
                try await backend.run { engine in try Output.encode(PolicyJSON(vm: vm, effective: try engine.effectivePolicy(vm: vm))) })
        case (.put, 1) where rest == ["policy"]: return try await savePolicy(vm: vm, request)
        case (.get, 2) where rest == ["retention", "preview"]: return try await preview(vm: vm, request)
        case (.post, 1) where rest == ["prune"]: return try await prune(vm: vm, request)
        case (.post, 1) where rest == ["send"]: return try await send(vm: vm, request)
        case (.post, 1) where rest == ["drill"]: return try await drill(vm: vm, request)
        default: throw PanelError(.notFound, "no such endpoint")
        }
    }

    /// The GET endpoints that name no VM; nil for another path.
    private func read(_ path: [String], _ request: Request) async throws -> Response? {
        if let response = try await readVaultsAndDrills(path, request) { return response }
        switch path.count {
        case 1:
            switch path[0] {
            case "openapi.json": return PanelResponse.text(PanelOpenAPI.document, contentType: "application/json")
            case "vms": return try PanelResponse.json(try await backend.vms())
            case "usage": return PanelResponse.jsonData(try await backend.run { engine in try Output.encode(UsageJSON(try engine.usage(vm: nil))) })
            case "jobs": return try PanelResponse.json(try await backend.jobs())
            case "events": return jobs.events(only: nil)
            default: return nil
            }
        case 2 where path[0] == "jobs":
            let id = try Self.jobID(path[1])
            guard let job = try await backend.job(id: id) else { throw PanelError(.notFound, "no job \(id)") }
            return try PanelResponse.json(job)
        case 3 where path[0] == "jobs" && path[2] == "events":
            let id = try Self.jobID(path[1])
            guard try await backend.job(id: id) != nil else { throw PanelError(.notFound, "no job \(id)") }
            return jobs.events(only: id)
        default: return nil
        }
    }

    struct CreateBody: Decodable {
        var name: String
        var description: String?
        var full: Bool?
        var diskOnly: Bool?
        var expires: String?
        var pin: Bool?
    }

    struct EditBody: Decodable {
        /// A new name (rename).
        var name: String?
        var description: String?
        /// A duration (14d), a date (YYYY-MM-DD) or `never`.
        var expires: String?
        var pinned: Bool?
    }

    struct RestoreBody: Decodable {
        var snapshot: String
        /// Must be exactly the VM's name.
        var confirm: String
        var safetySnapshot: Bool?
        /// `running` (default), `paused` or `off`.
        var start: String?
    }

    /// `POST /vms/{vm}/snapshots`: what `create --json` prints (201).
    private func create(vm: String, _ request: Request) async throws -> Response {
        let body = try await Self.body(CreateBody.self, request)
        try SnapshotEngine.validateName(body.name)
        var options = CreateOptions(name: body.name)
        options.description = body.description ?? ""
        options.full = body.full ?? false
        options.diskOnly = body.diskOnly ?? false
        options.pin = body.pin ?? false
        options.expiresAt = try body.expires.map { spec throws(EngineError) in try Self.expiry(spec) } ?? nil
        let prepared = options
        let snapshot = try await backend.run { engine in
            var options = prepared
            options.fullEvery = try engine.effectivePolicy(vm: vm)?.policy.fullEvery ?? options.fullEvery
            _ = try engine.createSnapshot(vm: vm, options: options)
            return try Output.encode(SnapshotJSON(try engine.snapshot(vm: vm, name: options.name), withLayers: true))
        }
        return PanelResponse.jsonData(snapshot, status: .created)
    }

    /// `PATCH /vms/{vm}/snapshots/{name}`: rename and/or edit; answers the snapshot as `show --json`.
    private func edit(vm: String, snapshot: String, _ request: Request) async throws -> Response {
        let body = try await Self.body(EditBody.self, request)
        if let name = body.name { try SnapshotEngine.validateName(name) }
        let expiresAt: Date?? = try body.expires.map { spec throws(EngineError) in try Self.expiry(spec) }
        guard body.name != nil || body.description != nil || body.expires != nil || body.pinned != nil else {
            throw PanelError(.badRequest, "nothing to change: give name, description, expires or pinned")
        }
        let result = try await backend.run { engine in
            var current = snapshot
            if body.description != nil || expiresAt != nil || body.pinned != nil {
                try engine.edit(vm: vm, snapshot: snapshot, description: body.description, expiresAt: expiresAt, pinned: body.pinned)
            }
            if let name = body.name, name != snapshot {
                try engine.rename(vm: vm, snapshot: snapshot, to: name)
                current = name
            }
            return try Output.encode(SnapshotJSON(try engine.snapshot(vm: vm, name: current)))
        }
        return PanelResponse.jsonData(result)
    }

    /// `GET /vms/{vm}/retention/preview?keep-daily=7...`: `prune --dry-run --json` with these rules
    /// (the VM's policy when none is given). Nothing is deleted.
    private func preview(vm: String, _ request: Request) async throws -> Response {
        var arguments: [String] = []
        for (key, value) in request.uri.queryParameters {
            let name = String(key)
            guard ["keep-within", "keep-last", "keep-hourly", "keep-daily", "keep-weekly", "keep-monthly", "keep-yearly"].contains(name) else {
                throw PanelError(.badRequest, "unknown parameter '\(name)'")
            }
            if !value.isEmpty { arguments += ["--\(name)", String(value)] }
        }
        let override: RetentionPolicy?
        do {
            override = arguments.isEmpty ? nil : try RetentionOptions.parse(arguments).policy()
        } catch let error as RetentionError {
            throw PanelError(.badRequest, "\(error)")
        } catch {
            throw PanelError(.badRequest, RetentionOptions.message(for: error))
        }
        let items = try await backend.run { engine in
            try Output.encode(PlanJSON.items(try engine.prune(vm: vm, policyOverride: override, dryRun: true).plan))
        }
        return PanelResponse.jsonData(items)
    }

    // MARK: Input

    /// The JSON body as `T` (at most ``PanelServer/maxBodyBytes``: 413 above).
    static func body<T: Decodable>(_ type: T.Type, _ request: Request) async throws -> T {
        var request = request
        let buffer = try await request.collectBody(upTo: PanelServer.maxBodyBytes)
        do { return try JSONDecoder().decode(T.self, from: Data(buffer.readableBytesView)) } catch {
            throw PanelError(.badRequest, "the request body is not the JSON this endpoint takes (nothing was changed)")
        }
    }

    /// A VM named in a path: a name ``NameRules`` accepts, or a UUID.
    static func vmName(_ text: String) throws -> String {
        if UUID(uuidString: text) == nil, let problem = NameRules.problem(with: text, what: "VM name") { throw PanelError(.badRequest, problem) }
        return text
    }

    static func snapshotName(_ text: String) throws -> String {
        if let problem = NameRules.problem(with: text, what: "snapshot name") { throw PanelError(.badRequest, problem) }
        return text
    }

    static func jobID(_ text: String) throws -> Int64 {
        guard let id = Int64(text), id > 0 else { throw PanelError(.badRequest, "a job id is a positive number") }
        return id
    }

    /// `never` → clear (nil), else ``ExpirySpec``.
    static func expiry(_ spec: String) throws(EngineError) -> Date? {
        if spec == "never" { return nil }
        do { return try ExpirySpec.parse(spec, now: Date()) } catch { throw EngineError(.invalidInput, error.message) }
    }
}
