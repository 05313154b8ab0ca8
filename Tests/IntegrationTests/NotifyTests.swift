import Foundation
import SnapshotCatalog
import SnapshotEngine
import Testing

/// Alerts against real receivers on loopback (scripts/lib/notify-receiver.py: an HTTP server
/// playing webhook, ntfy and Gotify, and aiosmtpd): what arrived is what is asserted.
@Suite(.serialized, .enabled(if: FileManager.default.isExecutableFile(atPath: CLI.binary)))
struct NotifyTests {
    let dir: String
    let catalogPath: String
    let tag = String(UUID().uuidString.prefix(8)).lowercased()

    init() throws {
        dir = FileManager.default.temporaryDirectory.path + "/kvmsnap-notify-\(UUID().uuidString.prefix(8))"
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        catalogPath = dir + "/catalog.sqlite"
    }

    /// kvmsnap over test:///default with this test's catalog (catalog-only work needs no QEMU).
    @discardableResult
    func kvmsnap(_ args: [String], environment: [String: String] = [:]) throws -> CLI.Result {
        try CLI.runBare(args + ["--connect", "test:///default", "--catalog", catalogPath, "--store", dir + "/store"], environment: environment)
    }

    func expectOK(_ result: CLI.Result, sourceLocation: SourceLocation = #_sourceLocation) {
        #expect(result.status == 0, "exit \(result.status): \(result.stderr)", sourceLocation: sourceLocation)
    }

    func secretFile(_ name: String, _ content: String, mode: mode_t = 0o600) throws -> String {
        let path = dir + "/" + name
        FileManager.default.createFile(atPath: path, contents: Data((content + "\n").utf8))
        chmod(path, mode)
        return path
    }

    func deliveries() throws -> [[String: Any]] {
        let log = try kvmsnap(["notify", "log", "--json"])
        return log.json as? [[String: Any]] ?? []
    }

    /// A VM in the catalog whose newest ready snapshot was taken at `taken`.
    func recordVM(_ name: String, snapshotAt taken: Date, id: String) throws -> String {
        let catalog = try Catalog(path: catalogPath)
        let uuid = UUID().uuidString.lowercased()
        try catalog.write { db in
            try db.save(VMRecord(uuid: uuid, name: name, createdAt: taken))
            try db.insert(
                SnapshotRecord(
                    id: id, vmUUID: uuid, name: "snap-\(id)", kind: .full, parentID: nil, createdAt: taken, state: .ready, hasMemory: false,
                    memoryBytes: 0, diskBytes: 1, configXML: "<domain/>", pinned: false, expiresAt: nil, labels: [], guestPauseMs: nil))
        }
        return uuid
    }

    @Test func notifyTestReachesWebhookNtfyGotifyAndMailInTheirFormats() throws {
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let http = try NotifyReceiver.shared("http", scratch: dir), smtp = try NotifyReceiver.shared("smtp", scratch: dir)
        defer { http.stop(); smtp.stop() }
        let token = "gotify-\(tag)-SECRET"
        let tokenFile = try secretFile("gotify.token", token)
        let rcpt = "ops-\(tag)@example.test"
        expectOK(try kvmsnap(["notify", "add", "hook", "--webhook", "http://\(http.address)/\(tag)/hook"]))
        expectOK(try kvmsnap(["notify", "add", "phone", "--ntfy", "http://\(http.address)/\(tag)/ntfy/backups"]))
        expectOK(try kvmsnap(["notify", "add", "got", "--gotify", "http://\(http.address)/\(tag)/gotify", "--token-file", tokenFile]))
        expectOK(try kvmsnap(["notify", "add", "mail", "--smtp", smtp.address, "--from", "kvmsnap@host.test", "--to", rcpt]))
        for target in ["hook", "phone", "got", "mail"] { expectOK(try kvmsnap(["notify", "test", target])) }

        let hook = http.requests(pathPrefix: "/\(tag)/hook")
        #expect(hook.count == 1)
        let payload = (hook.first?["body"] as? String).flatMap { try? JSONSerialization.jsonObject(with: Data($0.utf8)) } as? [String: Any]
        #expect(payload?["version"] as? Int == 1 && payload?["event"] as? String == "test", "\(String(describing: payload))")
        #expect((payload?["title"] as? String) == "test notification")
        let ntfy = http.requests(pathPrefix: "/\(tag)/ntfy/backups")
        let ntfyHeaders = ntfy.first?["headers"] as? [String: String] ?? [:]
        #expect(ntfy.count == 1 && ntfyHeaders["Title"] == "[kvmsnap] test notification" && ntfyHeaders["Priority"] == "default", "\(ntfy)")
        #expect(ntfyHeaders["Tags"]?.contains("kvmsnap") == true)
        #expect((ntfy.first?["body"] as? String)?.contains("If you read this, alerts reach you.") == true)
        let gotify = http.requests(pathPrefix: "/\(tag)/gotify")
        #expect(gotify.count == 1 && gotify.first?["path"] as? String == "/\(tag)/gotify/message", "\(gotify)")
        #expect((gotify.first?["headers"] as? [String: String])?["X-Gotify-Key"] == token)
        let gotifyBody = (gotify.first?["body"] as? String).flatMap { try? JSONSerialization.jsonObject(with: Data($0.utf8)) } as? [String: Any]
        #expect(gotifyBody?["title"] as? String == "[kvmsnap] test notification" && gotifyBody?["priority"] as? Int == 4, "\(String(describing: gotifyBody))")
        let mails = smtp.mails(to: rcpt)
        #expect(mails.count == 1 && mails.first?["mailFrom"] as? String == "kvmsnap@host.test")
        #expect((mails.first?["data"] as? String)?.contains("Subject: [kvmsnap] test notification") == true)

        // A target whose receiver is not there: notify test fails (exit 1) and says why.
        expectOK(try kvmsnap(["notify", "add", "nobody", "--webhook", "http://127.0.0.1:\(NotifyReceiver.freePort())/x"]))
        let down = try kvmsnap(["notify", "test", "nobody"])
        #expect(down.status == 1 && down.stderr.contains("Connection refused"), "\(down.stderr)")
    }

    /// Refused targets and rules change nothing: no catalog is created by a refusal.
    @Test func refusedTargetsAndRulesCreateNothing() throws {
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let cases: [([String], Int32, String)] = [
            (["notify", "add", "a", "--webhook", "ftp://hooks.example/x"], 64, "expected http(s)://"),
            (["notify", "add", "a", "--smtp", "127.0.0.1:25", "--from", "a@b", "--to", "c@d", "--user", "u"], 64, "go together"),
            (
                ["notify", "add", "a", "--smtp", "127.0.0.1:25", "--from", "a@b", "--to", "c@d", "--user", "u", "--password-file", "/etc/hostname"],
                64, "needs --starttls"
            ),
            (["notify", "add", "a", "--webhook", "http://user:pw@127.0.0.1/x"], 64, "credentials"),
            (["notify", "add", "a", "--webhook", "http://127.0.0.1/x?token=abc"], 64, "token="),
            (["notify", "add", "a", "--webhook", "http://127.0.0.1/x?access_token=abc"], 64, "'access_token='"),
            (["notify", "add", "a", "--webhook", "http://127.0.0.1/x?auth_token=abc"], 64, "'auth_token='"),
            (["notify", "add", "a", "--webhook", "http://127.0.0.1/x?x-token=abc"], 64, "'x-token='"),
            (["notify", "add", "a", "--webhook", "http://127.0.0.1/x?sig=abc"], 64, "'sig='"),
            (["notify", "add", "a", "--webhook", "http://127.0.0.1/x?a=1;token=abc"], 64, "'token='"),
            (["notify", "add", "a", "--webhook", "http://127.0.0.1/x#token=abc"], 64, "fragment holds 'token='"),
            (["notify", "add", "a", "--webhook", "http://127.0.0.1/hooks/token=abc"], 64, "path holds 'token='"),
            (["notify", "add", "a", "--webhook", "http://127.0.0.1/x?%61pi_key=abc"], 64, "'api_key='"),
            (["notify", "add", "a", "--webhook", "http://127.0.0.1/x?Signature=abc"], 64, "'Signature='"),
            (["notify", "add", "a", "--ntfy", "http://127.0.0.1/topic?passwd=abc"], 64, "give --token-file"),
            (["notify", "add", "a", "--gotify", "http://127.0.0.1/"], 64, "--token-file"),
            (["notify", "add", "a", "--webhook", "http://127.0.0.1/x", "--ntfy", "http://127.0.0.1/y"], 64, "exactly one"),
            (["notify", "add", "a", "--smtp", "127.0.0.1", "--from", "not-an-address", "--to", "c@d"], 64, "--from"),
            (["notify", "rule", "add", "a", "--on", "failed-job", "--older-than", "2h"], 64, "--older-than belongs"),
            (["notify", "rule", "add", "a", "--on", "stale-restore-point"], 2, "no target named 'a'"),
            (["notify", "remove", "a"], 2, "no target named 'a'"),
        ]
        for (args, status, message) in cases {
            let result = try kvmsnap(args)
            #expect(result.status == status && result.stderr.contains(message), "\(args): \(result.status) \(result.stderr)")
        }
        #expect(!FileManager.default.fileExists(atPath: catalogPath))
    }

    /// TLS: https to a webhook and SMTP with STARTTLS and AUTH, against receivers with a
    /// certificate of their own; it is verified (refused until trusted through SSL_CERT_FILE),
    /// and the password reaches the mail server only inside TLS.
    @Test func httpsAndSMTPStartTLSWithAuthVerifyTheCertificate() throws {
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let cert = dir + "/cert.pem", key = dir + "/key.pem"
        let made = try ExternalProcess.run(
            "/usr/bin/openssl",
            [
                "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-subj", "/CN=localhost", "-addext",
                "subjectAltName=DNS:localhost,IP:127.0.0.1", "-days", "2", "-keyout", key, "-out", cert,
            ], timeout: .seconds(60))
        #expect(made.succeeded, "\(made.standardError)")
        let tlsEnvironment = ["NOTIFY_TLS_CERT": cert, "NOTIFY_TLS_KEY": key]
        let https = try NotifyReceiver.start("http", directory: dir + "/https", environment: tlsEnvironment)
        let password = "pw-\(tag)-SECRET"
        let smtp = try NotifyReceiver.start(
            "smtp", directory: dir + "/smtps",
            environment: tlsEnvironment.merging(["NOTIFY_SMTP_USER": "kvmsnap", "NOTIFY_SMTP_PASSWORD": password]) { a, _ in a })
        defer { https.stop(); smtp.stop() }
        let passwordFile = try secretFile("smtp.password", password)
        expectOK(try kvmsnap(["notify", "add", "hook", "--webhook", "https://localhost:\(https.port)/\(tag)/tls"]))
        expectOK(
            try kvmsnap([
                "notify", "add", "mail", "--smtp", "localhost:\(smtp.port)", "--from", "kvmsnap@host.test", "--to", "ops@example.test",
                "--starttls", "--user", "kvmsnap", "--password-file", passwordFile,
            ]))
        for target in ["hook", "mail"] {
            let untrusted = try kvmsnap(["notify", "test", target])
            #expect(untrusted.status == 1 && untrusted.stderr.contains("certificate verify failed"), "\(untrusted.stderr)")
        }
        #expect(https.records().isEmpty && smtp.records().isEmpty)
        for target in ["hook", "mail"] { expectOK(try kvmsnap(["notify", "test", target], environment: ["SSL_CERT_FILE": cert])) }
        #expect(https.requests(pathPrefix: "/\(tag)/tls").count == 1)
        let mail = smtp.records().first
        #expect(smtp.records().count == 1 && mail?["tls"] as? Bool == true && mail?["authLogin"] as? String == "kvmsnap", "\(smtp.records())")
        #expect((mail?["data"] as? String)?.contains("Subject: [kvmsnap] test notification") == true)
        let bytes = FileManager.default.contents(atPath: catalogPath) ?? Data()
        #expect(bytes.range(of: Data(password.utf8)) == nil)
    }

    /// Secrets stay in their 0600 file: not in the catalog's bytes, not in any process's arguments
    /// while a delivery runs; a group-readable token file is refused and changes nothing.
    @Test func tokenIsNeitherInTheCatalogNorInProcessArguments() throws {
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let http = try NotifyReceiver.shared("http", scratch: dir)
        defer { http.stop() }
        let token = "tok-\(tag)-VERYSECRET"
        let loose = try secretFile("loose.token", token, mode: 0o640)
        expectOK(try kvmsnap(["notify", "add", "other", "--webhook", "http://\(http.address)/\(tag)/other"]))  // makes the catalog
        let before = try String(contentsOfFile: catalogPath, encoding: .isoLatin1)
        let refused = try kvmsnap(["notify", "add", "g", "--gotify", "http://\(http.address)/x", "--token-file", loose])
        #expect(refused.status == 64 && refused.stderr.contains("chmod 600"), "\(refused.stderr)")
        #expect(try String(contentsOfFile: catalogPath, encoding: .isoLatin1) == before)
        chmod(loose, 0o600)
        // /slow/: the receiver answers after 3 s, so the delivering kvmsnap is seen by ps.
        expectOK(try kvmsnap(["notify", "add", "g", "--gotify", "http://\(http.address)/\(tag)/slow", "--token-file", loose]))
        let sender = try ExternalProcess.start(
            CLI.binary, ["notify", "test", "g", "--connect", "test:///default", "--catalog", catalogPath, "--store", dir + "/store"],
            captureOutput: true)
        var seen = ""
        for _ in 0..<40 where !seen.contains("notify test g") {
            usleep(100_000)
            seen = try ExternalProcess.run("/bin/ps", ["-eo", "args"], timeout: .seconds(10)).standardOutput
        }
        let outcome = sender.wait(timeout: .seconds(30))
        #expect(outcome.succeeded, "\(outcome.standardError)")
        #expect(seen.contains("notify test g"), "ps never showed the delivering kvmsnap")
        #expect(!seen.contains(token))
        #expect(http.requests(pathPrefix: "/\(tag)/slow").first.flatMap { ($0["headers"] as? [String: String])?["X-Gotify-Key"] } == token)
        for suffix in ["", "-wal", "-shm"] {
            let bytes = FileManager.default.contents(atPath: catalogPath + suffix) ?? Data()
            #expect(bytes.range(of: Data(token.utf8)) == nil, "the token is in catalog.sqlite\(suffix)")
        }
    }

    /// A stale VM alerts once over several run-due calls; a newer snapshot ends the episode, and
    /// staleness after it alerts again. The age metric is in the textfile.
    @Test func staleRestorePointAlertsOncePerEpisode() throws {
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let http = try NotifyReceiver.shared("http", scratch: dir)
        defer { http.stop() }
        let t0 = Date(timeIntervalSince1970: 1_900_000_000)
        let uuid = try recordVM("web-\(tag)", snapshotAt: t0, id: "s1-\(tag)")
        expectOK(try kvmsnap(["notify", "add", "hook", "--webhook", "http://\(http.address)/\(tag)/stale"]))
        expectOK(try kvmsnap(["notify", "rule", "add", "hook", "--on", "stale-restore-point", "--older-than", "36h"]))
        func runDue(_ at: Date, metrics: String? = nil) throws {
            let stamp = ISO8601DateFormatter().string(from: at)
            expectOK(try kvmsnap(["run-due", "--now", stamp] + (metrics.map { ["--metrics-textfile", $0] } ?? [])))
        }
        try runDue(t0.addingTimeInterval(35 * 3600))  // fresh
        #expect(http.requests(pathPrefix: "/\(tag)/stale").isEmpty)
        let metrics = dir + "/kvmsnap.prom"
        try runDue(t0.addingTimeInterval(37 * 3600), metrics: metrics)
        try runDue(t0.addingTimeInterval(40 * 3600))
        var got = http.requests(pathPrefix: "/\(tag)/stale")
        #expect(got.count == 1, "\(got.count) alerts for one staleness episode")
        let payload = (got.first?["body"] as? String).flatMap { try? JSONSerialization.jsonObject(with: Data($0.utf8)) } as? [String: Any]
        #expect(payload?["event"] as? String == "stale-restore-point" && payload?["vm"] as? String == "web-\(tag)", "\(String(describing: payload))")
        #expect(payload?["tier"] as? String == "local" && payload?["snapshot"] as? String == "snap-s1-\(tag)")
        #expect(payload?["ageSeconds"] as? Int == 37 * 3600)
        let ages = try parsePrometheusTextfile(metrics)["kvmsnap_newest_restore_point_age_seconds"] ?? []
        #expect(ages.contains { $0.labels == ["vm": "web-\(tag)", "tier": "local"] && abs($0.value - 37 * 3600) < 5 }, "\(ages)")

        // A newer snapshot: fresh again; when it too grows old, a new episode alerts once more.
        let catalog = try Catalog(path: catalogPath)
        let t1 = t0.addingTimeInterval(41 * 3600)
        try catalog.write { db in
            try db.insert(
                SnapshotRecord(
                    id: "s2-\(tag)", vmUUID: uuid, name: "snap-s2", kind: .full, parentID: nil, createdAt: t1, state: .ready, hasMemory: false,
                    memoryBytes: 0, diskBytes: 1, configXML: "<domain/>", pinned: false, expiresAt: nil, labels: [], guestPauseMs: nil))
        }
        try runDue(t1.addingTimeInterval(3600))
        #expect(http.requests(pathPrefix: "/\(tag)/stale").count == 1)
        try runDue(t1.addingTimeInterval(37 * 3600))
        try runDue(t1.addingTimeInterval(38 * 3600))
        got = http.requests(pathPrefix: "/\(tag)/stale")
        #expect(got.count == 2, "\(got.count) alerts for two staleness episodes")
        #expect(try deliveries().allSatisfy { $0["state"] as? String == "sent" })
    }

    /// The outbox: kvmsnap SIGKILLed after the event was recorded and before it was delivered
    /// leaves a pending delivery, and the next command (any one) delivers it, once.
    @Test func anEventRecordedByAKilledCommandIsDeliveredByTheNextOne() throws {
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let http = try NotifyReceiver.shared("http", scratch: dir)
        defer { http.stop() }
        let t0 = Date(timeIntervalSince1970: 1_900_000_000)
        _ = try recordVM("app-\(tag)", snapshotAt: t0, id: "s1-\(tag)")
        expectOK(try kvmsnap(["notify", "add", "hook", "--webhook", "http://\(http.address)/\(tag)/killed"]))
        expectOK(try kvmsnap(["notify", "rule", "add", "hook", "--on", "stale-restore-point", "--older-than", "1d"]))
        let marker = dir + "/stalled"
        let victim = try ExternalProcess.start(
            CLI.binary,
            [
                "run-due", "--now", ISO8601DateFormatter().string(from: t0.addingTimeInterval(2 * 86_400)),
                "--connect", "test:///default", "--catalog", catalogPath, "--store", dir + "/store",
            ],
            environment: ["KVMSNAP_TEST_STALL_AT": "notify.deliver", "KVMSNAP_TEST_STALL_MARKER": marker])
        try waitForFile(marker, timeout: 60)
        victim.signal(SIGKILL)
        victim.wait()
        #expect(http.requests(pathPrefix: "/\(tag)/killed").isEmpty)
        let pending = try CLI.runBare(["notify", "log", "--json", "--catalog", catalogPath])  // reads, then delivers at its exit
        #expect((pending.json as? [[String: Any]])?.first?["state"] as? String == "pending", "\(pending.stdout)")
        #expect(http.requests(pathPrefix: "/\(tag)/killed").count == 1)
        expectOK(try kvmsnap(["notify", "log"]))
        #expect(http.requests(pathPrefix: "/\(tag)/killed").count == 1)
        #expect(try deliveries().first?["state"] as? String == "sent")
    }

    /// `vault verify` that cannot read the vault alerts vault-verify-failed, once per verify run.
    @Test func aFailedVaultVerifyAlerts() throws {
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let http = try NotifyReceiver.shared("http", scratch: dir)
        defer { http.stop() }
        expectOK(try kvmsnap(["vault", "add", "nas", dir + "/vault"]))
        expectOK(try kvmsnap(["notify", "add", "hook", "--webhook", "http://\(http.address)/\(tag)/verify"]))
        expectOK(try kvmsnap(["notify", "rule", "add", "hook", "--on", "vault-verify-failed"]))
        expectOK(try kvmsnap(["vault", "verify", "nas"]))
        #expect(http.requests(pathPrefix: "/\(tag)/verify").isEmpty)
        unlink(dir + "/vault/config")
        let failed = try kvmsnap(["vault", "verify", "nas"])
        #expect(failed.status == 1, "\(failed.stderr)")
        let posts = http.requests(pathPrefix: "/\(tag)/verify")
        let payload = (posts.first?["body"] as? String).flatMap { try? JSONSerialization.jsonObject(with: Data($0.utf8)) } as? [String: Any]
        #expect(posts.count == 1 && payload?["event"] as? String == "vault-verify-failed" && payload?["vault"] as? String == "nas", "\(posts)")
        #expect((payload?["message"] as? String)?.contains("missing object config") == true, "\(String(describing: payload))")
    }

    /// A receiver that is down: the failure is recorded (notify log shows it pending with its
    /// error), nothing hangs, and a later run-due delivers it once the receiver is back.
    @Test func deliveryToADownReceiverIsRecordedAndSentByALaterRunDue() throws {
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let port = NotifyReceiver.freePort()
        let t0 = Date(timeIntervalSince1970: 1_900_000_000)
        _ = try recordVM("db-\(tag)", snapshotAt: t0, id: "s1-\(tag)")
        expectOK(try kvmsnap(["notify", "add", "hook", "--webhook", "http://127.0.0.1:\(port)/\(tag)/later"]))
        expectOK(try kvmsnap(["notify", "rule", "add", "hook", "--on", "stale-restore-point", "--older-than", "1d"]))
        let start = Date()
        let first = try kvmsnap(["run-due", "--now", ISO8601DateFormatter().string(from: t0.addingTimeInterval(2 * 86_400))])
        #expect(first.status == 0, "\(first.stderr)")
        #expect(Date().timeIntervalSince(start) < 20, "a down receiver held run-due for \(Date().timeIntervalSince(start)) s")
        #expect(first.stderr.contains("Connection refused"), "\(first.stderr)")
        var log = try deliveries()
        #expect(log.count == 1 && log.first?["state"] as? String == "pending", "\(log)")
        #expect((log.first?["lastError"] as? String)?.contains("Connection refused") == true && (log.first?["attempts"] as? Int ?? 0) >= 1)
        let text = try kvmsnap(["notify", "log"])
        #expect(text.stdout.contains("pending") && text.stdout.contains("Connection refused"), "\(text.stdout)")

        let doctor = try kvmsnap(["doctor", "--json"])
        let alertsCheck = (doctor.json as? [String: Any]).flatMap { $0["checks"] as? [[String: Any]] }?.first { $0["name"] as? String == "alerts" }
        #expect(alertsCheck?["status"] as? String == "warn" && (alertsCheck?["detail"] as? String)?.contains("1 pending") == true, "\(doctor.stdout)")

        let receiver = try NotifyReceiver.start("http", directory: dir + "/later", port: port)
        defer { receiver.stop() }
        expectOK(try kvmsnap(["run-due", "--now", ISO8601DateFormatter().string(from: t0.addingTimeInterval(3 * 86_400))]))
        #expect(receiver.requests(pathPrefix: "/\(tag)/later").count == 1)
        log = try deliveries()
        #expect(log.count == 1 && log.first?["state"] as? String == "sent", "\(log)")
    }
}

/// A failed job of the real engine alerts once per job: one webhook POST with the documented
/// JSON and one mail with a clear subject. The VM is defined but never started (no boot).
@Suite(.serialized, .enabled(if: IntegrationEnvironment.available))
struct NotifyFailedJobTests {
    @Test func failedCreateSendsExactlyOneWebhookAndOneMail() throws {
        let guest = try TestGuest(tag: "notify", start: false)
        let dir = guest.directory + "/notify"
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        defer { guest.destroy() }
        let http = try NotifyReceiver.shared("http", scratch: dir), smtp = try NotifyReceiver.shared("smtp", scratch: dir)
        defer { http.stop(); smtp.stop() }
        let tag = String(UUID().uuidString.prefix(8)).lowercased()
        let cli = CLI(catalog: dir + "/catalog.sqlite", store: dir + "/store")
        let rcpt = "oncall-\(tag)@example.test"
        for args in [
            ["notify", "add", "hook", "--webhook", "http://\(http.address)/\(tag)/jobs"],
            ["notify", "add", "mail", "--smtp", smtp.address, "--from", "kvmsnap@host.test", "--to", rcpt],
            ["notify", "rule", "add", "hook", "--on", "failed-job"], ["notify", "rule", "add", "mail", "--on", "failed-job", "--vm", guest.name],
        ] {
            let made = try cli.run(args)
            #expect(made.status == 0, "\(made.stderr)")
        }
        let failed = try cli.run(["create", guest.name, "--name", "doomed"], environment: ["KVMSNAP_TEST_FAIL_AT": "create.beforeCapture"])
        #expect(failed.status == 1, "\(failed.status) \(failed.stderr)")
        // Another command afterwards delivers nothing twice.
        #expect(try cli.run(["jobs"]).status == 0)

        let posts = http.requests(pathPrefix: "/\(tag)/jobs")
        #expect(posts.count == 1, "\(posts.count) webhook POSTs")
        #expect(posts.first?["method"] as? String == "POST" && (posts.first?["headers"] as? [String: String])?["Content-Type"] == "application/json")
        let payload = (posts.first?["body"] as? String).flatMap { try? JSONSerialization.jsonObject(with: Data($0.utf8)) } as? [String: Any] ?? [:]
        #expect(
            Set(payload.keys) == ["version", "event", "vm", "vmUUID", "snapshot", "job", "vault", "tier", "ageSeconds", "host", "time", "title", "message"])
        #expect(payload["version"] as? Int == 1 && payload["event"] as? String == "failed-job" && payload["vm"] as? String == guest.name)
        #expect(payload["snapshot"] as? String == "doomed" && payload["title"] as? String == "job failed: create on \(guest.name)")
        let job = payload["job"] as? [String: Any] ?? [:]
        #expect(job["kind"] as? String == "create" && (job["error"] as? String)?.contains("injected failure at create.beforeCapture") == true, "\(job)")
        #expect(ISO8601DateFormatter().date(from: payload["time"] as? String ?? "") != nil)
        let mails = smtp.mails(to: rcpt)
        #expect(mails.count == 1, "\(mails.count) mails")
        #expect((mails.first?["data"] as? String)?.contains("Subject: [kvmsnap] job failed: create on \(guest.name)\r\n") == true)
        #expect((mails.first?["data"] as? String)?.contains("injected failure at create.beforeCapture") == true)
    }
}
