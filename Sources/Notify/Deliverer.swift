import Foundation
import KVMSnapCore
import SnapshotCatalog

/// What one ``Deliverer/deliverDue(budget:)`` pass did.
public struct DeliveryReport: Sendable, Equatable {
    public var sent = 0
    /// Failed this pass and left pending for a later retry.
    public var retrying = 0
    /// Failed for the last time (given up; shown by `notify log`, `doctor`).
    public var gaveUp = 0
    public var errors: [String] = []
    public init() {}
}

/// Sends what the outbox holds: claims each due delivery (so two kvmsnap processes never send
/// the same one at once), sends it, and marks it sent; a failure is retried a few times within
/// the pass (up to `budget` seconds in all), then recorded with its error and the time of the
/// next try (``DeliveryBackoff``). Delivery is at least once: a kill after the receiver took a
/// message but before it was marked sent sends it again after the claim expires.
public struct Deliverer: Sendable {
    let catalog: Catalog
    let now: @Sendable () -> Date
    /// Seconds for connect, each send and each read.
    public var timeout: Double = 5
    /// How long a claimed delivery is left to its claimer before another process may send it.
    static let claimSeconds: Double = 120

    public init(catalog: Catalog, now: @escaping @Sendable () -> Date = { Date() }) { self.catalog = catalog; self.now = now }

    /// Delivers every pending delivery that is due, retrying failures within `budget` seconds.
    @discardableResult
    public func deliverDue(budget: Double = 3) -> DeliveryReport {
        let start = ContinuousClock.now
        var report = DeliveryReport()
        let due: [NotifyDeliveryRow]
        do { due = try catalog.read { try $0.dueNotifyDeliveries(now: now()) } } catch {
            report.errors.append("reading the alert outbox: \(error.message)")
            return report
        }
        for row in due {
            guard var delivery = claim(row.delivery) else { continue }
            var failure: NotifyError?
            var pause = 0.25
            repeat {
                do throws(NotifyError) {
                    try send(row.event, to: row.delivery.target)
                    failure = nil
                } catch { failure = error }
                guard failure != nil, (ContinuousClock.now - start) + .milliseconds(Int(pause * 1000)) < .seconds(budget) else { break }
                Thread.sleep(forTimeInterval: pause)
                pause *= 2
            } while true
            delivery.attempts += 1
            if let failure {
                delivery.lastError = failure.message
                delivery.nextAttemptAt = DeliveryBackoff.nextAttempt(after: delivery.attempts, now: now())
                delivery.state = delivery.nextAttemptAt == nil ? .failed : .pending
                if delivery.state == .failed { report.gaveUp += 1 } else { report.retrying += 1 }
                report.errors.append("alert to \(delivery.target): \(failure.message)")
            } else {
                delivery.state = .sent
                delivery.sentAt = now()
                delivery.nextAttemptAt = nil
                report.sent += 1
            }
            do { try catalog.write { try $0.update(delivery) } } catch {
                report.errors.append("recording the delivery to \(delivery.target): \(error.message)")
            }
        }
        return report
    }

    /// Takes a due delivery for this process: its next attempt moves past the claim period, in a
    /// transaction that first checks it is still due. Nil when another process took it.
    private func claim(_ delivery: NotifyDeliveryRecord) -> NotifyDeliveryRecord? {
        let at = now()
        do {
            return try catalog.write { db -> NotifyDeliveryRecord? in
                guard let id = delivery.id, let current = try db.notifyDelivery(id: id), current.state == .pending,
                    (current.nextAttemptAt ?? .distantPast) <= at
                else { return nil }
                var claimed = current
                claimed.nextAttemptAt = at.addingTimeInterval(Self.claimSeconds)
                try db.update(claimed)
                return claimed
            }
        } catch { return nil }
    }

    private func send(_ record: NotifyEventRecord, to targetName: String) throws(NotifyError) {
        let event = try Outbox.decode(record)
        let target = try NotifyTargets(catalog: catalog, now: now).target(targetName)
        try send(event, to: target)
    }

    /// Sends `event` to `target` now (no outbox): `notify test` and the outbox's deliveries.
    public func send(_ event: AlertEvent, to target: NotifyTargetRecord) throws(NotifyError) {
        let secret = try target.secretFile.map { path throws(NotifyError) in try SecretFile.read(path) }
        guard let kind = NotifyTargetKind(rawValue: target.kind) else {
            throw NotifyError(.unsupported, "target \(target.name) has kind '\(target.kind)', unknown to this kvmsnap")
        }
        switch kind {
        case .webhook: try HTTPPost.send(AlertRendering.webhook(event, url: target.endpoint, token: secret), timeout: timeout)
        case .ntfy: try HTTPPost.send(AlertRendering.ntfy(event, topicURL: target.endpoint, token: secret), timeout: timeout)
        case .gotify:
            guard let secret else { throw NotifyError(.invalidInput, "gotify target \(target.name) has no token file") }
            try HTTPPost.send(AlertRendering.gotify(event, serverURL: target.endpoint, token: secret), timeout: timeout)
        case .smtp:
            let server = try NotifyTargets.mailServer(target.endpoint)
            let from = target.mailFrom ?? "kvmsnap@\(event.host)"
            let recipients = (target.mailTo ?? "").split(separator: ",").map(String.init)
            let id = "kvmsnap.\(UUID().uuidString.lowercased())@\(event.host)"
            let message = AlertRendering.mail(event, from: from, to: recipients.joined(separator: ", "), messageID: id)
            var client = SMTPClient(host: server.host, port: server.port, timeout: timeout)
            client.startTLS = target.startTLS
            if let user = target.user, let secret { client.credentials = (user, secret) }
            try client.send(
                from: from, to: recipients, message: message, heloName: event.host.isEmpty ? "localhost" : event.host)
        }
    }
}
