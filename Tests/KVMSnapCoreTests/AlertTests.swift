import Foundation
import KVMSnapCore
import Testing

/// The pure half of alerts: rule matching, the staleness decision, dedup keys, backoff and
/// the payloads as each receiver gets them.
struct AlertTests {
    let t0 = Date(timeIntervalSince1970: 1_800_000_000)

    func failedCreate() -> AlertEvent {
        AlertEvent.failedJob(
            AlertEvent.Job(id: 42, kind: "create", stage: "capture", error: "disk \"vda\" full\nsecond line"),
            vm: "web01", vmUUID: "ABC-1", snapshot: "nightly", host: "hv1", time: t0)
    }

    @Test func ruleMatchesItsEventAndVMByNameOrUUID() {
        let event = failedCreate()
        #expect(AlertRuleSpec(id: 1, target: "t", event: .failedJob, vm: nil, olderThanSeconds: nil).matches(event))
        #expect(AlertRuleSpec(id: 1, target: "t", event: .failedJob, vm: "web01", olderThanSeconds: nil).matches(event))
        #expect(AlertRuleSpec(id: 1, target: "t", event: .failedJob, vm: "abc-1", olderThanSeconds: nil).matches(event))
        #expect(!AlertRuleSpec(id: 1, target: "t", event: .failedJob, vm: "db01", olderThanSeconds: nil).matches(event))
        #expect(!AlertRuleSpec(id: 1, target: "t", event: .drillFailed, vm: nil, olderThanSeconds: nil).matches(event))
    }

    @Test func stalenessIsStrictlyOlderThanTheThresholdOrNoRestorePoint() {
        let point = RestorePoint(id: "s1", name: "snap", time: t0)
        let day: Double = 86_400
        #expect(Staleness.decide(tier: .local, newest: point, now: t0.addingTimeInterval(day), thresholdSeconds: day) == nil)
        let stale = Staleness.decide(tier: .vault, newest: point, now: t0.addingTimeInterval(day + 1), thresholdSeconds: day)
        #expect(stale == StaleFinding(tier: .vault, newestID: "s1", newestName: "snap", ageSeconds: day + 1, thresholdSeconds: day))
        let none = Staleness.decide(tier: .local, newest: nil, now: t0, thresholdSeconds: day)
        #expect(none?.newestID == nil && none?.ageSeconds == nil)
        #expect(Staleness.describe(seconds: 37 * 3600) == "37h" && Staleness.describe(seconds: 4 * 86_400 + 3 * 3600) == "4d 3h")
    }

    @Test func dedupKeysSeparateJobsAndStalenessEpisodes() throws {
        #expect(AlertDedupKey.failedJob(jobID: 7) != AlertDedupKey.failedJob(jobID: 8))
        let a = try #require(
            Staleness.decide(tier: .local, newest: RestorePoint(id: "s1", name: "a", time: t0), now: t0.addingTimeInterval(100), thresholdSeconds: 10))
        let later = try #require(
            Staleness.decide(tier: .local, newest: RestorePoint(id: "s1", name: "a", time: t0), now: t0.addingTimeInterval(900), thresholdSeconds: 10))
        let next = try #require(
            Staleness.decide(tier: .local, newest: RestorePoint(id: "s2", name: "b", time: t0), now: t0.addingTimeInterval(900), thresholdSeconds: 10))
        // The same episode (same newest restore point) has one key however late the check runs.
        #expect(AlertDedupKey.stale(ruleID: 1, vmUUID: "U", finding: a) == AlertDedupKey.stale(ruleID: 1, vmUUID: "u", finding: later))
        #expect(AlertDedupKey.stale(ruleID: 1, vmUUID: "u", finding: a) != AlertDedupKey.stale(ruleID: 1, vmUUID: "u", finding: next))
        #expect(AlertDedupKey.stale(ruleID: 1, vmUUID: "u", finding: a) != AlertDedupKey.stale(ruleID: 2, vmUUID: "u", finding: a))
    }

    @Test func backoffDoublesFromThirtySecondsUpToAnHourThenGivesUp() {
        #expect((1...8).map { DeliveryBackoff.delay(afterAttempt: $0) } == [30, 60, 120, 240, 480, 960, 1920, 3600])
        #expect(DeliveryBackoff.nextAttempt(after: 1, now: t0) == t0.addingTimeInterval(30))
        #expect(DeliveryBackoff.nextAttempt(after: DeliveryBackoff.maxAttempts, now: t0) == nil)
    }

    @Test func webhookJSONHasTheDocumentedSchema() throws {
        let json = try JSONSerialization.jsonObject(with: Data(AlertRendering.webhookJSON(failedCreate()))) as? [String: Any] ?? [:]
        #expect(Set(json.keys) == ["version", "event", "vm", "vmUUID", "snapshot", "job", "vault", "tier", "ageSeconds", "host", "time", "title", "message"])
        #expect(json["version"] as? Int == 1 && json["event"] as? String == "failed-job" && json["vm"] as? String == "web01")
        #expect(json["vault"] is NSNull && json["tier"] is NSNull && json["ageSeconds"] is NSNull)
        #expect(json["time"] as? String == "2027-01-15T08:00:00Z" && json["title"] as? String == "job failed: create on web01")
        let job = json["job"] as? [String: Any] ?? [:]
        #expect(job["id"] as? Int == 42 && job["kind"] as? String == "create" && job["stage"] as? String == "capture")
        #expect(job["error"] as? String == "disk \"vda\" full\nsecond line")
    }

    @Test func ntfyAndGotifyUseTheirNativeFormats() throws {
        let event = failedCreate()
        let ntfy = AlertRendering.ntfy(event, topicURL: "http://n/backups", token: nil)
        #expect(ntfy.url == "http://n/backups" && String(decoding: ntfy.body, as: UTF8.self) == event.message)
        let headers = Dictionary(uniqueKeysWithValues: ntfy.headers)
        #expect(headers["Title"] == "[kvmsnap] job failed: create on web01" && headers["Priority"] == "high")
        #expect(headers["Authorization"] == nil)
        let gotify = AlertRendering.gotify(event, serverURL: "http://g:8080/", token: "T0K")
        #expect(gotify.url == "http://g:8080/message" && Dictionary(uniqueKeysWithValues: gotify.headers)["X-Gotify-Key"] == "T0K")
        let body = try JSONSerialization.jsonObject(with: Data(gotify.body)) as? [String: Any] ?? [:]
        #expect(body["priority"] as? Int == 8 && body["message"] as? String == event.message && !String(decoding: gotify.body, as: UTF8.self).contains("T0K"))
    }

    @Test func mailHasAClearSubjectAndIsDotStuffed() {
        var event = failedCreate()
        event.message = "line one\n.hidden line\n..two dots"
        let mail = AlertRendering.mail(event, from: "k@h", to: "o@x", messageID: "id@h")
        #expect(mail.contains("\r\nSubject: [kvmsnap] job failed: create on web01\r\n") && mail.hasPrefix("From: k@h\r\n"))
        #expect(!mail.contains("\n\n") && !mail.replacingOccurrences(of: "\r\n", with: "").contains("\n"))
        let stuffed = AlertRendering.dotStuffed(mail)
        #expect(stuffed.contains("\r\n..hidden line\r\n...two dots\r\n") && !stuffed.contains("\r\n.hidden"))
        // A header value cannot be split into a second header.
        #expect(AlertRendering.subject(AlertEvent(type: .test, host: "h", time: t0, title: "x\r\nBcc: evil@x", message: "")) == "[kvmsnap] x  Bcc: evil@x")
    }
}
