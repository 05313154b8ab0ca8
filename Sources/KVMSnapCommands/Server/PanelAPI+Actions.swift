import Foundation
import Hummingbird
import KVMSnapCore
import SnapshotCatalog
import SnapshotEngine

/// The retention, vault and drill endpoints: each builds its input as the CLI command does
/// (the same parsing and validation, so a refusal reads as the CLI's error) and answers with the
/// command's `--json` model; prune, send and drill run as jobs (202 `{"job": id}`).
extension PanelAPI {
    /// `PUT /vms/{vm}/policy`: the body of `policy show --json`'s `policy` object. Every field
    /// becomes the `policy set` option of the same name, so the policy is validated as
    /// `policy set` validates it; a refused policy changes nothing (400 with the CLI's message).
    struct PolicyBody: Decodable {
        var keepWithin: String?
        var keepLast, keepHourly, keepDaily, keepWeekly, keepMonthly, keepYearly: Int?
        var fullEvery: Int?
        var schedule: String?
        var quiesce: String?
        var vault: String?
        /// As `policy show --json` lists them: `["keep-daily 7", ...]`.
        var vaultKeep: [String]?
        var drill: String?

        /// The `policy set` command line these fields stand for (`--option=value`, so no value is
        /// taken for an option).
        func arguments(vm: String) throws -> [String] {
            var out: [String] = []
            let counts = [
                ("keep-last", keepLast), ("keep-hourly", keepHourly), ("keep-daily", keepDaily), ("keep-weekly", keepWeekly),
                ("keep-monthly", keepMonthly), ("keep-yearly", keepYearly), ("full-every", fullEvery),
            ]
            let texts = [("keep-within", keepWithin), ("schedule", schedule), ("quiesce", quiesce), ("vault", vault), ("drill", drill)]
            for (name, value) in counts { if let value { out.append("--\(name)=\(value)") } }
            for (name, value) in texts { if let value { out.append("--\(name)=\(value)") } }
            for rule in vaultKeep ?? [] {
                let parts = rule.split(separator: " ")
                guard parts.count == 2, parts[0].hasPrefix("keep-") else {
                    throw PanelError(.badRequest, "vaultKeep entries read 'keep-daily 7' (as policy show lists them); nothing was changed")
                }
                out.append("--vault-\(parts[0])=\(parts[1])")
            }
            return out + ["--", vm]
        }
    }

    /// `POST /vms/{vm}/prune`: the VM's name typed again.
    struct PruneBody: Decodable {
        var confirm: String
    }

    /// `POST /vms/{vm}/send`.
    struct SendBody: Decodable {
        var snapshot: String
        var vault: String
    }

    /// `POST /vms/{vm}/drill`: a snapshot, or `latest` (the newest ready one).
    struct DrillBody: Decodable {
        var snapshot: String?
        var latest: Bool?
    }

    /// `PUT /vms/{vm}/policy`: what `policy set VM ... --json` prints.
    func savePolicy(vm: String, _ request: Request) async throws -> Response {
        let arguments = try await Self.body(PolicyBody.self, request).arguments(vm: vm)
        let command: PolicySetCommand
        do { command = try PolicySetCommand.parse(arguments) } catch {
            // The CLI's one-line form of a usage error (``KVMSnap/fail(_:)``).
            let text = UsageError(fullMessage: PolicySetCommand.fullMessage(for: error, columns: 100_000), brief: PolicySetCommand.message(for: error))
            throw PanelError(.badRequest, text.message.isEmpty ? "invalid policy" : text.message)
        }
        let policy = try command.policy()
        return PanelResponse.jsonData(
            try await backend.run { engine in
                try engine.setPolicy(policy, vm: vm)
                return try Output.encode(PolicyJSON(vm: vm, effective: try engine.effectivePolicy(vm: vm)))
            })
    }

    /// `POST /vms/{vm}/prune`: `prune VM` with the VM's stored policy, as a job; the typed name
    /// must be the VM's (else 400 and nothing is deleted). The job's `details` name the
    /// planned and the deleted snapshots.
    func prune(vm: String, _ request: Request) async throws -> Response {
        let body = try await Self.body(PruneBody.self, request)
        let (name, newestJob) = try await jobs.jobMark(vm: vm)
        guard RestorePlan.confirmationMatches(typed: body.confirm, vmName: name) else {
            throw PanelError(.badRequest, "confirm '\(body.confirm)' does not match the VM name '\(name)'; nothing was deleted")
        }
        return try await jobs.launch(.prune, vmName: name, after: newestJob) { engine in
            _ = try engine.prune(vm: vm, dryRun: false)
        }
    }

    /// `POST /vms/{vm}/send`: `send VM SNAP --to VAULT`, as a job.
    func send(vm: String, _ request: Request) async throws -> Response {
        let body = try await Self.body(SendBody.self, request)
        try SnapshotEngine.validateName(body.snapshot)
        let (name, newestJob) = try await jobs.jobMark(vm: vm)
        try await backend.run { engine in
            _ = try engine.snapshot(vm: vm, name: body.snapshot)
            guard try engine.vaultRecords().contains(where: { $0.name == body.vault }) else {
                throw PanelError(.notFound, "no vault named '\(body.vault)' (see vault list); nothing was sent")
            }
        }
        return try await jobs.launch(.send, vmName: name, after: newestJob) { engine in
            _ = try engine.send(vm: vm, snapshot: body.snapshot, to: body.vault)
        }
    }

    /// `POST /vms/{vm}/drill`: `drill VM SNAP` (or `--latest`) with the default checks, as a
    /// job; the report is in `GET /drills?vm=VM` (its `job` field) once the job ended.
    func drill(vm: String, _ request: Request) async throws -> Response {
        let body = try await Self.body(DrillBody.self, request)
        guard (body.latest ?? false) == (body.snapshot == nil) else {
            throw PanelError(.badRequest, "give either snapshot or latest: true (nothing was started)")
        }
        if let snapshot = body.snapshot { try SnapshotEngine.validateName(snapshot) }
        let (name, newestJob) = try await jobs.jobMark(vm: vm)
        return try await jobs.launch(.drill, vmName: name, after: newestJob) { engine in
            _ = try engine.drill(vm: vm, options: DrillOptions(snapshot: body.snapshot))
        }
    }

    /// `GET /vaults`, `GET /vaults/{vault}/snapshots[?vm=]`, `GET /drills[?vm=&limit=]`; nil for another path.
    func readVaultsAndDrills(_ path: [String], _ request: Request) async throws -> Response? {
        switch (path.count, path.first) {
        case (1, "vaults"):
            return PanelResponse.jsonData(try await backend.run { engine in try Output.encode(try engine.vaultRecords().map { VaultRecordJSON($0) }) })
        case (3, "vaults") where path[2] == "snapshots":
            let vault = path[1], vm = try Self.query(request, allowed: ["vm"])["vm"]
            if let problem = NameRules.problem(with: vault, what: "vault name") { throw PanelError(.badRequest, problem) }
            return PanelResponse.jsonData(
                try await backend.run { engine in try Output.encode(try engine.vaultSnapshots(vault, vm: vm).map(VaultSnapshotJSON.init)) })
        case (1, "drills"):
            let query = try Self.query(request, allowed: ["vm", "limit"])
            let vm = query["vm"]
            guard let limit = Int(query["limit"] ?? "20") else { throw PanelError(.badRequest, "limit is a number") }
            return PanelResponse.jsonData(
                try await backend.run { engine in
                    try Output.encode(try CatalogReader(catalog: engine.catalog).drills(vm: vm, limit: max(1, min(limit, 100_000))).map(DrillJSON.init))
                })
        default:
            return nil
        }
    }

    /// The query's parameters; one not in `allowed` is refused (400).
    static func query(_ request: Request, allowed: Set<String>) throws -> [String: String] {
        var out: [String: String] = [:]
        for (key, value) in request.uri.queryParameters {
            guard allowed.contains(String(key)) else { throw PanelError(.badRequest, "unknown parameter '\(key)'") }
            out[String(key)] = String(value)
        }
        return out
    }
}
