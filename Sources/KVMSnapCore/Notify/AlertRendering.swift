import Foundation

/// An HTTP request to send: what every HTTP target kind renders to.
public struct RenderedRequest: Sendable, Equatable {
    public var method = "POST"
    /// The path and query to request on the target's host.
    public var url: String
    public var headers: [(String, String)]
    public var body: [UInt8]

    public init(url: String, headers: [(String, String)], body: [UInt8]) { self.url = url; self.headers = headers; self.body = body }

    public static func == (a: RenderedRequest, b: RenderedRequest) -> Bool {
        a.method == b.method && a.url == b.url && a.body == b.body && a.headers.map { "\($0.0): \($0.1)" } == b.headers.map { "\($0.0): \($0.1)" }
    }
}

/// How an event is put on the wire for each kind of target (pure; the senders only transmit).
///
/// ## Topics
/// - ``webhookJSON(_:)``: the documented webhook schema (version 1)
/// - ``ntfy(_:topicURL:token:)``, ``gotify(_:serverURL:token:)``: the receivers' native formats
/// - ``mail(_:from:to:messageID:)``: a plain-text mail
public enum AlertRendering {
    /// The webhook payload, schema version 1 (README "Alerts"): every key is always present,
    /// null where it does not apply.
    public static func webhookJSON(_ event: AlertEvent) -> [UInt8] {
        func string(_ value: String?) -> String { value.map(jsonString) ?? "null" }
        let job =
            event.job.map { job in
                "{\"id\":\(job.id),\"kind\":\(jsonString(job.kind)),\"stage\":\(string(job.stage)),\"error\":\(string(job.error))}"
            } ?? "null"
        let age = event.ageSeconds.map { String(Int64($0.rounded())) } ?? "null"
        let fields = [
            "\"version\":1", "\"event\":\(jsonString(event.type.rawValue))", "\"vm\":\(string(event.vm))",
            "\"vmUUID\":\(string(event.vmUUID))", "\"snapshot\":\(string(event.snapshot))", "\"job\":\(job)",
            "\"vault\":\(string(event.vault))", "\"tier\":\(string(event.tier?.rawValue))", "\"ageSeconds\":\(age)",
            "\"host\":\(jsonString(event.host))", "\"time\":\(jsonString(isoTime(event.time)))",
            "\"title\":\(jsonString(event.title))", "\"message\":\(jsonString(event.message))",
        ]
        return Array(("{" + fields.joined(separator: ",") + "}").utf8)
    }

    public static func webhook(_ event: AlertEvent, url: String, token: String?) -> RenderedRequest {
        var headers = [("Content-Type", "application/json"), ("User-Agent", "kvmsnap")]
        if let token { headers.append(("Authorization", "Bearer \(token)")) }
        return RenderedRequest(url: url, headers: headers, body: webhookJSON(event))
    }

    /// ntfy's native publish: the message as the body of a POST to the topic URL, with `Title`,
    /// `Priority` (high for failures, default for passes and tests) and `Tags` headers.
    public static func ntfy(_ event: AlertEvent, topicURL: String, token: String?) -> RenderedRequest {
        let priority = priority(event) >= 7 ? "high" : "default"
        let tag = event.type == .drillPassed || event.type == .test ? "white_check_mark" : "warning"
        var headers = [
            ("Content-Type", "text/plain; charset=utf-8"), ("Title", headerSafe("[kvmsnap] " + event.title)), ("Priority", priority),
            ("Tags", "\(tag),kvmsnap,\(event.type.rawValue)"),
        ]
        if let token { headers.append(("Authorization", "Bearer \(token)")) }
        return RenderedRequest(url: topicURL, headers: headers, body: Array(event.message.utf8))
    }

    /// Gotify's native `POST /message` with `{title, message, priority}`; the application token
    /// goes in the `X-Gotify-Key` header, never in the URL.
    public static func gotify(_ event: AlertEvent, serverURL: String, token: String) -> RenderedRequest {
        let base = serverURL.hasSuffix("/") ? String(serverURL.dropLast()) : serverURL
        let body = "{\"title\":\(jsonString("[kvmsnap] " + event.title)),\"message\":\(jsonString(event.message)),\"priority\":\(priority(event))}"
        return RenderedRequest(
            url: base + "/message", headers: [("Content-Type", "application/json"), ("X-Gotify-Key", token)], body: Array(body.utf8))
    }

    /// Gotify's priority scale (0-10): failures 8, stale restore points 7, passes and tests 4.
    static func priority(_ event: AlertEvent) -> Int {
        switch event.type {
        case .failedJob, .drillFailed, .vaultVerifyFailed: 8
        case .staleRestorePoint: 7
        case .drillPassed, .test: 4
        }
    }

    /// The mail subject: `[kvmsnap] job failed: create on web01`.
    public static func subject(_ event: AlertEvent) -> String { headerSafe("[kvmsnap] " + event.title) }

    /// A plain-text mail (headers, blank line, body) with CRLF line ends, before dot-stuffing.
    public static func mail(_ event: AlertEvent, from: String, to: String, messageID: String) -> String {
        let date = mailDate(event.time)
        let subject = subject(event)
        // Non-ASCII subjects as RFC 2047 encoded words, so every mail server takes them.
        let encodedSubject = subject.allSatisfy(\.isASCII) ? subject : "=?UTF-8?B?\(Data(subject.utf8).base64EncodedString())?="
        let headers = [
            "From: \(headerSafe(from))", "To: \(headerSafe(to))", "Subject: \(encodedSubject)", "Date: \(date)",
            "Message-ID: <\(messageID)>", "MIME-Version: 1.0", "Content-Type: text/plain; charset=utf-8",
            "Content-Transfer-Encoding: 8bit", "X-Kvmsnap-Event: \(event.type.rawValue)",
        ]
        let body = event.message.replacingOccurrences(of: "\r\n", with: "\n").split(separator: "\n", omittingEmptySubsequences: false)
        return (headers + [""] + body.map(String.init) + ["", "-- ", "kvmsnap on \(event.host)"]).joined(separator: "\r\n") + "\r\n"
    }

    /// SMTP DATA transparency (RFC 5321 4.5.2): a line starting with `.` gets another `.`.
    public static func dotStuffed(_ text: String) -> String {
        text.split(separator: "\r\n", omittingEmptySubsequences: false)
            .map { $0.hasPrefix(".") ? "." + $0 : String($0) }
            .joined(separator: "\r\n")
    }

    /// A header value on one line: control characters (CR, LF, ...) become spaces.
    public static func headerSafe(_ text: String) -> String {
        String(String.UnicodeScalarView(text.unicodeScalars.map { $0.value < 0x20 || $0.value == 0x7F ? " " : $0 }))
    }

    public static func isoTime(_ date: Date) -> String {
        let formatter = ISO8601DateFormatter()
        formatter.formatOptions = [.withInternetDateTime]
        return formatter.string(from: date)
    }

    static func mailDate(_ date: Date) -> String {
        let formatter = DateFormatter()
        formatter.locale = Locale(identifier: "en_US_POSIX")
        formatter.timeZone = TimeZone(identifier: "UTC")
        formatter.dateFormat = "EEE, dd MMM yyyy HH:mm:ss '+0000'"
        return formatter.string(from: date)
    }

    /// A JSON string literal (RFC 8259 escapes).
    public static func jsonString(_ text: String) -> String {
        var out = "\""
        for scalar in text.unicodeScalars {
            switch scalar {
            case "\"": out += "\\\""
            case "\\": out += "\\\\"
            case "\n": out += "\\n"
            case "\r": out += "\\r"
            case "\t": out += "\\t"
            default:
                if scalar.value < 0x20 || scalar.value == 0x7F {
                    out += String(format: "\\u%04x", scalar.value)
                } else {
                    out.unicodeScalars.append(scalar)
                }
            }
        }
        return out + "\""
    }
}
