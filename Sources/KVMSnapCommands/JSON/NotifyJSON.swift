import Foundation
import Notify
import SnapshotCatalog

/// The JSON shape of an alert target (`notify list --json`, `notify add --json`). The secret
/// file's path is shown, never its content.
struct NotifyTargetJSON: Encodable {
    var name: String
    var kind: String
    var endpoint: String
    var from: String?
    var to: [String]?
    var secretFile: String?
    var addedAt: Date
    init(_ target: NotifyTargetRecord) {
        name = target.name; kind = target.kind; endpoint = target.endpoint; from = target.mailFrom
        to = target.mailTo.map { $0.split(separator: ",").map(String.init) }; secretFile = target.secretFile; addedAt = target.addedAt
    }
}

/// The JSON shape of a rule (`notify rule list --json`).
struct NotifyRuleJSON: Encodable {
    var id: Int64?
    var target: String
    var on: String
    var vm: String?
    var olderThanSeconds: Double?
    init(_ rule: NotifyRuleRecord) {
        id = rule.id; target = rule.target; on = rule.event; vm = rule.vm; olderThanSeconds = rule.olderThanSeconds
    }
}

/// The JSON shape of a delivery (`notify log --json`).
struct NotifyDeliveryJSON: Encodable {
    var id: Int64?
    var target: String
    var state: String
    var attempts: Int
    var lastError: String?
    var nextAttemptAt: Date?
    var sentAt: Date?
    var event: String
    var eventID: Int64
    var title: String?
    var recordedAt: Date
    init(_ row: NotifyDeliveryRow) {
        id = row.delivery.id; target = row.delivery.target; state = row.delivery.state.rawValue; attempts = row.delivery.attempts
        lastError = row.delivery.lastError; nextAttemptAt = row.delivery.state == .pending ? row.delivery.nextAttemptAt : nil
        sentAt = row.delivery.sentAt; event = row.event.type; eventID = row.delivery.eventID; recordedAt = row.event.recordedAt
        title = Outbox.title(of: row.event)
    }
}
