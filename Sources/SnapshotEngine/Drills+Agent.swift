import Foundation
import KVMSnapCore
import Libvirt
import SnapshotCatalog

/// What a command run through the guest agent's `guest-exec` returned.
struct GuestExecResult {
    var status: Int?
    var output = ""
    var errors = ""
    /// Why it could not run or did not finish (no agent, refused, timed out).
    var error: String?
}

extension Drills {
    /// Runs `/bin/sh -c command` in the guest through the agent (`guest-exec`, then
    /// `guest-exec-status` until it exited) and returns its exit status and output.
    func guestExec(_ domain: Domain, _ command: String, deadline: ContinuousClock.Instant) -> GuestExecResult {
        let request: [String: Any] = [
            "execute": "guest-exec", "arguments": ["path": "/bin/sh", "arg": ["-c", command], "capture-output": true],
        ]
        let started: [String: Any]
        do { started = try agent(domain, request) } catch { return GuestExecResult(error: "guest agent not available: \(error.message)") }
        guard let pid = started["pid"] as? Int else { return GuestExecResult(error: "guest-exec returned no pid") }
        while ContinuousClock.now < deadline {
            let status: [String: Any]
            do { status = try agent(domain, ["execute": "guest-exec-status", "arguments": ["pid": pid]]) } catch {
                return GuestExecResult(error: "guest-exec-status failed: \(error.message)")
            }
            if status["exited"] as? Bool == true {
                return GuestExecResult(
                    status: status["exitcode"] as? Int ?? (status["signal"] as? Int).map { 128 + $0 },
                    output: Self.decodeBase64(status["out-data"]), errors: Self.decodeBase64(status["err-data"]))
            }
            Thread.sleep(forTimeInterval: 0.2)
        }
        return GuestExecResult(error: "the command did not finish before the drill's timeout")
    }

    /// The guest's first non-loopback IPv4 address as its agent reports it, if any.
    func guestAddress(_ domain: Domain) -> String? {
        guard let reply = try? agentArray(domain, ["execute": "guest-network-get-interfaces"]) else { return nil }
        for case let interface as [String: Any] in reply {
            for case let address as [String: Any] in (interface["ip-addresses"] as? [Any]) ?? [] {
                if address["ip-address-type"] as? String == "ipv4", let ip = address["ip-address"] as? String, !ip.hasPrefix("127.") { return ip }
            }
        }
        return nil
    }

    /// Takes a screenshot of the clone and keeps it as PNG next to the reports
    /// (`<store>/drills/<clone>.png`); nil (with a diagnostic) when the VM has no display.
    func keepScreenshot(clone: DrillClone, vm: VMRecord) -> String? {
        do {
            let shot = try lv("cannot take a screenshot of \(clone.plan.clone)") { () throws(LibvirtError) in try clone.domain.screenshot() }
            // QEMU 7.1+ with libvirt 8.x+ sends PNG itself; older ones send PPM, converted here.
            let png: [UInt8]
            if shot.bytes.starts(with: RGBImage.pngSignature) {
                png = shot.bytes
            } else {
                do { png = try RGBImage(ppm: shot.bytes).png } catch {
                    throw EngineError(.external, "the screenshot (\(shot.mimeType)) is neither PNG nor PPM: \(error.description)")
                }
            }
            try StoreLayout.makeDirectory(screenshotDirectory, mode: 0o700)
            let path = "\(screenshotDirectory)/\(clone.plan.clone).png"
            guard FileManager.default.createFile(atPath: path, contents: Data(png), attributes: [.posixPermissions: 0o600]) else {
                throw EngineError(.io, "cannot write \(path)")
            }
            return path
        } catch {
            configuration.diagnostics.swallowed("taking the drill's screenshot", error)
            return nil
        }
    }

    /// One agent command; its `return` object.
    private func agent(_ domain: Domain, _ request: [String: Any]) throws(EngineError) -> [String: Any] {
        guard let object = try agentReply(domain, request) as? [String: Any] else { throw EngineError(.external, "unexpected agent reply") }
        return object
    }

    private func agentArray(_ domain: Domain, _ request: [String: Any]) throws(EngineError) -> [Any] {
        guard let array = try agentReply(domain, request) as? [Any] else { throw EngineError(.external, "unexpected agent reply") }
        return array
    }

    private func agentReply(_ domain: Domain, _ request: [String: Any]) throws(EngineError) -> Any? {
        let json: String
        do { json = String(decoding: try JSONSerialization.data(withJSONObject: request), as: UTF8.self) } catch {
            throw EngineError(.invalidInput, "cannot encode the agent command")
        }
        let reply = try lv("guest agent") { () throws(LibvirtError) in try domain.agentCommand(json, timeoutSeconds: 5) }
        let object = try? JSONSerialization.jsonObject(with: Data(reply.utf8)) as? [String: Any]
        return object?["return"]
    }

    private static func decodeBase64(_ value: Any?) -> String {
        guard let text = value as? String, let data = Data(base64Encoded: text) else { return "" }
        return String(decoding: data, as: UTF8.self)
    }
}
