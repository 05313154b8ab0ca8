import ArgumentParser
import Foundation
import KVMSnapCore
import Notify
import SnapshotCatalog

struct NotifyCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "notify", abstract: "Alerts: where they go (targets), which events (rules), a test, and the delivery log.",
        subcommands: [Add.self, List.self, Remove.self, NotifyRuleCommand.self, Test.self, Log.self])

    struct Add: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Add a target: --webhook URL | --ntfy URL | --gotify URL --token-file F | --smtp HOST[:PORT] --from A --to B.",
            discussion:
                "Secrets live in files readable by their owner only (chmod 600), never in the catalog or on the command line. "
                + "https and --starttls verify the server's certificate (system trust store; SSL_CERT_FILE for a private CA); "
                + "SMTP AUTH needs --starttls.")
        @OptionGroup var global: GlobalOptions
        @Argument(help: "Target name.") var name: String
        @Option(help: ArgumentHelp("POST the documented JSON (README 'Alerts') to this URL.", valueName: "URL")) var webhook: String?
        @Option(help: ArgumentHelp("Publish to this ntfy topic URL (http(s)://HOST/TOPIC).", valueName: "URL")) var ntfy: String?
        @Option(help: ArgumentHelp("Send to this Gotify server (POST /message); needs --token-file.", valueName: "URL")) var gotify: String?
        @Option(help: ArgumentHelp("Mail through this server (port 25 when omitted).", valueName: "HOST[:PORT]")) var smtp: String?
        @Option(help: ArgumentHelp("0600 file with the token (Gotify app token; Bearer token for webhook/ntfy).", valueName: "FILE"))
        var tokenFile: String?
        @Option(help: ArgumentHelp("Mail sender address.", valueName: "ADDRESS")) var from: String?
        @Option(help: ArgumentHelp("Mail recipient(s), comma-separated.", valueName: "ADDRESS")) var to: String?
        @Flag(help: "Upgrade the mail connection to TLS (STARTTLS); the certificate is verified.") var starttls = false
        @Option(help: ArgumentHelp("SMTP user for AUTH PLAIN (needs --starttls and --password-file).", valueName: "USER")) var user: String?
        @Option(help: ArgumentHelp("0600 file with the SMTP password.", valueName: "FILE")) var passwordFile: String?

        func spec() throws -> NotifyTargetSpec {
            let given: [(NotifyTargetKind, String)] = [(.webhook, webhook), (.ntfy, ntfy), (.gotify, gotify), (.smtp, smtp)].compactMap { kind, value in
                value.map { (kind, $0) }
            }
            guard given.count == 1, let (kind, endpoint) = given.first else {
                throw CommandFailure("give exactly one of --webhook, --ntfy, --gotify or --smtp (nothing was changed)", exitCode: 64)
            }
            var spec = NotifyTargetSpec(name: name, kind: kind, endpoint: endpoint)
            spec.tokenFile = tokenFile; spec.mailFrom = from; spec.mailTo = to
            spec.startTLS = starttls; spec.user = user; spec.passwordFile = passwordFile
            return spec
        }

        func run() throws {
            let spec = try spec()
            try NotifyTargets.check(spec)  // before the catalog is opened: a refusal creates nothing
            let target = try NotifyTargets(catalog: try Context(global, localOnly: false).catalog()).add(spec)
            if global.json { Output.json(NotifyTargetJSON(target)); return }
            Output.line("added \(target.kind) target \(target.name): \(target.endpoint)")
        }
    }

    struct List: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "List alert targets.")
        @OptionGroup var global: GlobalOptions
        func run() throws {
            let targets = try NotifyTargets(catalog: try Context(global, localOnly: false).readingCatalog()).list()
            if global.json { Output.json(targets.map(NotifyTargetJSON.init)); return }
            Output.table(
                ["NAME", "KIND", "ENDPOINT", "DETAIL"],
                targets.map { target in
                    let detail =
                        target.kind == "smtp" ? "from \(target.mailFrom ?? "?") to \(target.mailTo ?? "?")" : target.secretFile.map { "token file \($0)" } ?? ""
                    return [target.name, target.kind, target.endpoint, detail]
                })
        }
    }

    struct Remove: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Remove an alert target with its rules and its delivery log.")
        @OptionGroup var global: GlobalOptions
        @Argument(help: "Target name.") var name: String
        func run() throws {
            let context = try Context(global, localOnly: false)
            guard FileManager.default.fileExists(atPath: global.resolvedCatalog) else { throw NotifyError(.notFound, "no target named '\(name)'") }
            try NotifyTargets(catalog: try context.catalog()).remove(name)
            if !global.json { Output.line("removed target \(name)") }
        }
    }

    struct Test: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Send a test notification to a target now and say whether it arrived (exit 1 when it did not).")
        @OptionGroup var global: GlobalOptions
        @Argument(help: "Target name.") var name: String
        func run() throws {
            let catalog = try Context(global, localOnly: false).readingCatalog()
            let target = try NotifyTargets(catalog: catalog).target(name)
            let event = AlertEvent.test(target: name, host: Outbox.hostName, time: Date())
            try Deliverer(catalog: catalog).send(event, to: target)
            if global.json { Output.json(["target": name, "sent": "true"]); return }
            Output.line("sent a test notification to \(name) (\(target.kind) \(target.endpoint))")
        }
    }

    struct Log: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Alert deliveries, newest first: sent, pending (retrying, with the last error) and failed (given up).")
        @OptionGroup var global: GlobalOptions
        @Option(help: "Show at most this many.") var limit = 50
        func validate() throws {
            guard (1...10_000).contains(limit) else { throw ValidationError("--limit must be 1...10000") }
        }
        func run() throws {
            let catalog = try Context(global, localOnly: false).readingCatalog()
            let rows: [NotifyDeliveryRow]
            do { rows = try catalog.read { try $0.notifyDeliveries(limit: limit) } } catch { throw NotifyError(.catalog, error.message) }
            if global.json { Output.json(rows.map(NotifyDeliveryJSON.init)); return }
            Output.table(
                ["ID", "RECORDED", "TARGET", "STATE", "TRIES", "EVENT", "DETAIL"],
                rows.map { row in
                    let d = row.delivery
                    var detail = Outbox.title(of: row.event) ?? row.event.type
                    if let error = d.lastError, d.state != .sent { detail += " | last error: \(error)" }
                    if d.state == .pending, d.attempts > 0, let next = d.nextAttemptAt { detail += " | next try \(Output.isoUTC(next))" }
                    return [String(d.id ?? 0), Output.isoUTC(row.event.recordedAt), d.target, d.state.rawValue, String(d.attempts), row.event.type, detail]
                })
        }
    }
}
