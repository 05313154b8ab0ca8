import ArgumentParser
import Foundation
import KVMSnapCore

#if canImport(Glibc)
import Glibc
#endif

/// Pure: reads a timeline file, runs the planner, prints. Opens neither libvirt nor the catalog.
struct RetentionSimulateCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "simulate",
        abstract: "Show what a policy would keep and prune on a timeline of snapshots (a JSON file).",
        discussion: """
            The timeline is a JSON array of {"name", "createdAt", "pinned"?, "expiresAt"?, "id"?, "state"?} \
            with ISO 8601 timestamps, in a regular file or on standard input (-), at most 128 MiB. \
            Periods (hourly, daily, ...) are in the local time zone ($TZ).
            """)
    @Option(help: ArgumentHelp("Timeline JSON file (a regular file of at most 128 MiB), or - for standard input.", valueName: "FILE")) var timeline: String
    @Option(help: ArgumentHelp("Plan as of this ISO 8601 instant (default: now).", valueName: "ISO8601")) var now: String?
    @OptionGroup var keep: RetentionOptions
    @Flag(help: "Print [{name, keep, reason}] in the timeline's order instead of a table.") var json = false

    /// The largest timeline read (about 2.4 million minimal entries).
    static let maxTimelineBytes = 128 << 20

    func run() throws {
        let policy = try keep.policy()
        var instant = Date()
        if let now {
            switch Timestamp.parse(now) {
            case .success(let date): instant = date
            case .failure(let error): throw CommandFailure("bad --now: \(error)", exitCode: 64)
            }
        }
        let candidates = try Self.read(timeline)
        let plan = try RetentionPlanner.plan(candidates, policy: policy, now: instant, timeZone: .current)
        var out = StreamedOutput()
        if json {
            Timeline.encode(plan) { out.write($0) }
            out.flush()
            return
        }
        // The table streams: column widths from one pass over the decisions, then one
        // buffered line per snapshot (no array of rows, no formatter per date).
        // Names come from the timeline file: escaped as Output.table escapes its cells.
        var widths = [4, 19, 6, 0]  // NAME, CREATED (always 19), ACTION, REASON (last: not padded)
        for d in plan.decisions {
            widths[0] = max(widths[0], TerminalText.escape(d.name).count)
            widths[2] = max(widths[2], PruneCommand.word(d.action).count)
        }
        var local = LocalTimestampFormatter(timeZone: .current)
        out.line(Output.tableLine(["NAME", "CREATED", "ACTION", "REASON"], widths: widths))
        for (c, d) in zip(candidates, plan.decisions) {
            out.line(Output.tableLine([TerminalText.escape(d.name), local.format(c.createdAt), PruneCommand.word(d.action), d.reason ?? "-"], widths: widths))
        }
        out.flush()
        Output.line()
        var tiers: [[String]] = []
        if let within = policy.keepWithin { tiers.append(["within \(within)", "\(plan.keptByRule[.within] ?? 0)"]) }
        for rule in RetentionRule.periodRules where policy.count(for: rule) != 0 {
            tiers.append(["\(rule.rawValue) \(policy.count(for: rule))", "\(plan.keptByRule[rule] ?? 0)"])
        }
        var kept = 0, pruned = 0, leftAlone = 0, byOverride = 0
        for d in plan.decisions {
            switch d.action {
            case .keep: kept += 1; if d.rule == nil { byOverride += 1 }
            case .prune: pruned += 1
            case .leaveAlone: leftAlone += 1
            }
        }
        if byOverride > 0 { tiers.append(["pinned / not expired", "\(byOverride)"]) }
        Output.table(["RULE", "KEPT"], tiers)
        Output.line("total: \(kept) kept, \(pruned) pruned, \(leftAlone) left alone (as of \(Output.isoUTC(instant)))")
    }

    /// The timeline's snapshots, parsed while reading (never the whole file in memory): from a
    /// regular file, or standard input for `-`, of at most `maxTimelineBytes`. Anything else (a
    /// directory, a FIFO, a device such as /dev/zero) is refused before a byte is read, in one line.
    static func read(_ path: String) throws -> [RetentionCandidate] {
        let limitText = "\(maxTimelineBytes >> 20) MiB"
        func failure(_ reason: String) -> CommandFailure {
            CommandFailure("cannot read timeline \(Bounds.clip(path, 200)): \(reason)", exitCode: 64)
        }
        let fd: Int32
        if path == "-" {
            fd = STDIN_FILENO
        } else {
            // O_NONBLOCK: opening a FIFO must not wait for a writer; the type check follows.
            fd = open(path, O_RDONLY | O_NONBLOCK | O_CLOEXEC)
            guard fd >= 0 else { throw failure(String(cString: strerror(errno))) }
            var st = stat()
            guard fstat(fd, &st) == 0 else { let reason = String(cString: strerror(errno)); close(fd); throw failure(reason) }
            guard st.st_mode & S_IFMT == S_IFREG else {
                close(fd)
                throw failure("not a regular file (give a regular file of at most \(limitText), or - for standard input)")
            }
            guard st.st_size <= maxTimelineBytes else {
                close(fd)
                throw failure("\(st.st_size) bytes is more than the \(limitText) limit")
            }
        }
        defer { if fd != STDIN_FILENO { close(fd) } }
        var total = 0
        return try Timeline.decode { buffer in
            while true {
                let n = Glibc.read(fd, buffer.baseAddress, buffer.count)
                if n < 0 && errno == EINTR { continue }
                guard n >= 0 else { throw failure(String(cString: strerror(errno))) }
                total += n
                guard total <= maxTimelineBytes else { throw failure("more than the \(limitText) limit") }
                return n
            }
        }
    }
}

/// Standard output through a 1 MiB buffer (for tables of a million lines), written with `print`
/// so it stays in order with the lines printed before and after it.
struct StreamedOutput {
    private var bytes: [UInt8] = []

    mutating func write(_ chunk: UnsafeRawBufferPointer) {
        bytes.append(contentsOf: chunk)
        if bytes.count >= 1 << 20 { flush() }
    }

    mutating func line(_ text: String) {
        bytes.append(contentsOf: text.utf8)
        bytes.append(0x0A)
        if bytes.count >= 1 << 20 { flush() }
    }

    mutating func flush() {
        guard !bytes.isEmpty else { return }
        print(String(decoding: bytes, as: UTF8.self), terminator: "")
        bytes.removeAll(keepingCapacity: true)
    }
}
