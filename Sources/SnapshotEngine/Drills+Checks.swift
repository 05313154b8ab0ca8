import Foundation
import KVMSnapCore
import Libvirt
import SnapshotCatalog

extension Drills {
    /// Runs the checks in order (running, agent, console, port, command, script), each timed;
    /// after the first failure the rest are reported as skipped. All share one deadline:
    /// `options.timeout` from the drill's start.
    func runChecks(clone: DrillClone, vm: VMRecord, snapshot: SnapshotRecord, options: DrillOptions, began: ContinuousClock.Instant) -> DrillOutcome {
        let deadline = began + options.timeout
        var planned: [(String, () -> (Bool, String))] = [("running", { waitRunning(clone.domain, deadline: deadline) })]
        if options.checkAgent { planned.append(("agent", { waitAgent(clone.domain, deadline: deadline) })) }
        if let pattern = options.consolePattern {
            planned.append(("console", { waitConsole(clone.serialLogs, pattern: pattern, deadline: deadline) }))
        }
        if let port = options.port { planned.append(("port", { waitPort(clone.domain, port: port, deadline: deadline) })) }
        if let command = options.command { planned.append(("command", { runGuestCommand(clone.domain, command, deadline: deadline) })) }
        if let script = options.script {
            planned.append(("script", { runScript(script, clone: clone, vm: vm, snapshot: snapshot, deadline: deadline) }))
        }
        var outcome = DrillOutcome()
        for (name, body) in planned {
            if let failed = outcome.failedCheck {
                outcome.checks.append(DrillCheck(name: name, passed: false, seconds: 0, detail: "skipped: the \(failed.name) check failed"))
                continue
            }
            configuration.progress?("check \(name)", nil)
            let start = ContinuousClock.now
            let (passed, detail) = body()
            let end = ContinuousClock.now
            outcome.checks.append(DrillCheck(name: name, passed: passed, seconds: (end - start).seconds, detail: detail))
            if passed { outcome.recoverySeconds = (end - began).seconds }
        }
        return outcome
    }

    /// Polls `body` every `interval` until it returns a value or the deadline passes.
    private func poll<T>(until deadline: ContinuousClock.Instant, every interval: Duration = .milliseconds(250), _ body: () -> T?) -> T? {
        while true {
            if let value = body() { return value }
            if ContinuousClock.now + interval > deadline { return nil }
            Thread.sleep(forTimeInterval: interval.seconds)
        }
    }

    func waitRunning(_ domain: Domain, deadline: ContinuousClock.Instant) -> (Bool, String) {
        var last = "unknown"
        let ok = poll(until: deadline) { () -> Bool? in
            guard let state = try? domain.state().state else { return nil }
            last = state.description
            return state == .running ? true : nil
        }
        return ok == true ? (true, "running") : (false, "the domain did not reach running (state: \(last))")
    }

    func waitAgent(_ domain: Domain, deadline: ContinuousClock.Instant) -> (Bool, String) {
        var last = ""
        let ok = poll(until: deadline, every: .milliseconds(500)) { () -> Bool? in
            do throws(LibvirtError) {
                try domain.pingAgent(timeoutSeconds: 2)
                return true
            } catch {
                last = error.message
                return nil
            }
        }
        return ok == true ? (true, "guest-ping answered") : (false, "the guest agent did not answer: \(last)")
    }

    func waitConsole(_ logs: [String], pattern: String, deadline: ContinuousClock.Instant) -> (Bool, String) {
        guard let regex = try? NSRegularExpression(pattern: pattern) else { return (false, "invalid regular expression: \(pattern)") }
        guard !logs.isEmpty else { return (false, "the VM has no file-backed serial console to read") }
        let line = poll(until: deadline) { () -> String? in
            for log in logs {
                guard let data = FileManager.default.contents(atPath: log) else { continue }
                for line in String(decoding: data, as: UTF8.self).split(whereSeparator: \.isNewline) {
                    let text = String(line)
                    if regex.firstMatch(in: text, range: NSRange(text.startIndex..., in: text)) != nil { return text }
                }
            }
            return nil
        }
        guard let line else { return (false, "the console never showed /\(pattern)/") }
        return (true, "console: " + TerminalText.escape(String(line.prefix(200))))
    }

    func waitPort(_ domain: Domain, port: Int, deadline: ContinuousClock.Instant) -> (Bool, String) {
        let (agentUp, agentDetail) = waitAgent(domain, deadline: deadline)
        guard agentUp else { return (false, agentDetail) }
        var last = ""
        var seenClosed = false
        let ok = poll(until: deadline, every: .milliseconds(500)) { () -> Bool? in
            let result = guestExec(domain, "cat /proc/net/tcp /proc/net/tcp6 2>/dev/null", deadline: deadline)
            // A poll the deadline cut short does not hide what an earlier one saw.
            if let error = result.error {
                if !seenClosed { last = error }
                return nil
            }
            seenClosed = true
            if GuestTCP.listeningPorts(procNetTCP: result.output).contains(port) { return true }
            last = "nothing listens on TCP port \(port) in the guest"
            return nil
        }
        return ok == true ? (true, "TCP port \(port) is listening in the guest") : (false, last)
    }

    func runGuestCommand(_ domain: Domain, _ command: String, deadline: ContinuousClock.Instant) -> (Bool, String) {
        let (agentUp, agentDetail) = waitAgent(domain, deadline: deadline)
        guard agentUp else { return (false, agentDetail) }
        let result = guestExec(domain, command, deadline: deadline)
        if let error = result.error { return (false, error) }
        let tail = TerminalText.escape(String((result.output + result.errors).suffix(200)).trimmingCharacters(in: .whitespacesAndNewlines))
        return (result.status == 0, "exit \(result.status ?? -1)" + (tail.isEmpty ? "" : ": \(tail)"))
    }

    func runScript(_ path: String, clone: DrillClone, vm: VMRecord, snapshot: SnapshotRecord, deadline: ContinuousClock.Instant) -> (Bool, String) {
        let address = guestAddress(clone.domain) ?? ""
        let environment = [
            "KVMSNAP_DRILL_CLONE": clone.plan.clone, "KVMSNAP_DRILL_ADDRESS": address, "KVMSNAP_DRILL_VM": vm.name,
            "KVMSNAP_DRILL_SNAPSHOT": snapshot.name, "KVMSNAP_DRILL_CONSOLE_LOG": clone.serialLogs.first ?? "",
        ]
        let remaining = max(Duration.seconds(1), deadline - ContinuousClock.now)
        do {
            let outcome = try ExternalProcess.run(path, [clone.plan.clone, address], environment: environment, timeout: remaining, outputLimit: 4096)
            let tail = TerminalText.escape(String((outcome.standardOutput + outcome.standardError).suffix(200)).trimmingCharacters(in: .whitespacesAndNewlines))
            let status = outcome.timedOut ? "timed out" : "exit \(outcome.status)"
            return (outcome.succeeded, status + (tail.isEmpty ? "" : ": \(tail)"))
        } catch {
            return (false, error.description)
        }
    }
}
