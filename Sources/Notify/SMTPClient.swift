import Foundation
import KVMSnapCore

/// A small SMTP client (RFC 5321): EHLO, MAIL FROM, RCPT TO for each recipient, DATA with
/// dot-stuffing, QUIT. Plain TCP only so far: STARTTLS and AUTH (which kvmsnap sends only
/// over TLS) are refused when a target is added, so a password never crosses the wire in clear.
struct SMTPClient {
    let host: String
    let port: Int
    let timeout: Double

    /// Sends `message` (headers and body, CRLF line ends, not yet dot-stuffed).
    func send(from: String, to recipients: [String], message: String, heloName: String) throws(NotifyError) {
        let connection = try TCPConnection.connect(host: host, port: port, timeout: timeout)
        defer { connection.close() }
        try expect(connection, [220], "greeting")
        try command(connection, "EHLO \(heloName)", [250])
        try command(connection, "MAIL FROM:<\(from)>", [250])
        for recipient in recipients { try command(connection, "RCPT TO:<\(recipient)>", [250, 251]) }
        try command(connection, "DATA", [354])
        var data = AlertRendering.dotStuffed(message)
        if !data.hasSuffix("\r\n") { data += "\r\n" }
        try connection.send(data + ".\r\n")
        try expect(connection, [250], "end of data")
        // The mail is accepted at this point: a failed QUIT does not make it undelivered.
        try? command(connection, "QUIT", [221])
    }

    private func command(_ connection: TCPConnection, _ line: String, _ codes: Set<Int>) throws(NotifyError) {
        try connection.send(line + "\r\n")
        try expect(connection, codes, String(line.prefix(while: { $0 != ":" && $0 != " " })))
    }

    /// Reads one reply (all its `NNN-` continuation lines) and checks its code.
    @discardableResult
    private func expect(_ connection: TCPConnection, _ codes: Set<Int>, _ step: String) throws(NotifyError) -> String {
        var lines: [String] = []
        while true {
            let line = try connection.readLine()
            lines.append(line)
            let bytes = Array(line.utf8)
            if bytes.count < 4 || bytes[3] != UInt8(ascii: "-") { break }
        }
        let last = lines.last ?? ""
        guard let code = Int(last.prefix(3)), codes.contains(code) else {
            throw NotifyError(.delivery, "mail server \(host):\(port) refused \(step): \(Bounds.clip(last, 200))")
        }
        return last
    }
}
