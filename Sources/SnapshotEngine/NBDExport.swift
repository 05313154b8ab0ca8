import Foundation

/// One image served by a private `qemu-nbd` and the one ``NBDClient`` connected to it: how the
/// vault reads a snapshot's disk (its top layer with the whole backing chain, as the guest
/// sees it) and writes a restored one.
///
/// `qemu-nbd` is started through ``ExternalProcess`` on a Unix socket in a fresh 0700
/// directory, serves exactly one client (`--shared=1`) and is not `--persistent`: it exits by
/// itself when that client disconnects. The client connects right after the start, so:
/// - normal end: ``finish()`` (or `deinit`) disconnects, waits for the exit, removes the directory;
/// - kvmsnap killed (even SIGKILL): the kernel closes the socket, qemu-nbd sees its client
///   leave and exits (tested). qemu-nbd ends this way only for a client that *completed* the
///   handshake (a client that leaves during negotiation does not end it; checked with qemu 7.2),
///   so a kill between the spawn and the end of ``NBDClient``'s handshake (milliseconds while
///   qemu-nbd opens the image) leaves one waiting on a socket nobody else can reach; the next
///   export kills it (``sweepOrphans(in:)``: the directory names its dead owner).
///
/// Ownership: one owner, not `Sendable`. Throws ``EngineError`` only.
public final class NBDExport {
    /// How the image is opened.
    public enum Access: Sendable, Equatable {
        /// Read-only. `forceShare` opens it without taking QEMU's image locks (`force-share=on`),
        /// needed to read an image a running VM holds open for writing (its active layer);
        /// frozen layers below a running VM's top can be read without it. `direct` reads with
        /// O_DIRECT (`--cache=none`): a send does not evict the host's page cache.
        case readOnly(forceShare: Bool, direct: Bool = false)
        /// Writable, for restore into a new image. ``WriteCache/unsafe`` ignores flushes and
        /// relies on ``finish()`` to `fsync` the image after qemu-nbd has closed it.
        case writable(cache: WriteCache)
    }

    public enum WriteCache: String, Sendable, Equatable {
        /// `--cache=unsafe`: no flushes while writing; the image is fsynced once at the end.
        case unsafe
        /// `--cache=writeback`: flushes honoured (``NBDClient/flush()``), host page cache used.
        case writeback
        /// `--cache=none`: O_DIRECT writes, flushes honoured; bypasses the host page cache.
        case direct = "none"
    }

    public let imagePath: String
    public let access: Access
    /// The export's socket (inside a private 0700 directory).
    public let socketPath: String
    /// The connected client: read and write through it.
    public let client: NBDClient
    /// The qemu-nbd process id (for tests and diagnostics).
    public var pid: pid_t { process.pid }

    private let directory: String
    private let process: ExternalProcess.Child
    private var finished = false

    /// Starts qemu-nbd on `image` and connects to it.
    /// - Parameters:
    ///   - format: the image's format (`qcow2` or `raw`); never probed.
    ///   - startTimeout: seconds to wait for qemu-nbd to listen.
    /// - Throws: `.io` when qemu-nbd cannot start, cannot open the image (its message, e.g. a
    ///   lock held by a running VM), or does not listen in time. Nothing is left running then.
    public init(image: String, format: String = "qcow2", access: Access, startTimeout: Double = 30) throws(EngineError) {
        imagePath = image
        self.access = access
        directory = try Self.makePrivateDirectory()
        socketPath = directory + "/nbd.sock"
        let child: ExternalProcess.Child
        do {
            child = try ExternalProcess.start(
                "qemu-nbd", Self.arguments(image: image, format: format, access: access, socket: socketPath),
                captureOutput: true)
        } catch {
            unlink(directory + "/" + Self.ownerFile); rmdir(directory)
            throw EngineError(.io, "cannot start qemu-nbd: \(error)")
        }
        process = child
        do {
            client = try Self.connectWhenListening(socketPath, child: child, timeout: startTimeout)
        } catch {
            Self.stop(child, directory: directory, socket: socketPath, grace: .zero)
            throw error
        }
    }

    deinit {
        if !finished { client.disconnect(); Self.stop(process, directory: directory, socket: socketPath) }
    }

    /// The end of a successful transfer: disconnects, waits for qemu-nbd to close the image
    /// and exit, and for a writable export `fsync`s the image, so it is complete and durable
    /// when this returns.
    /// - Throws: `.io` when qemu-nbd exits with an error (e.g. it could not write the image's
    ///   metadata) or the image cannot be synced.
    public func finish() throws(EngineError) {
        guard !finished else { return }
        finished = true
        client.disconnect()
        let outcome = Self.stop(process, directory: directory, socket: socketPath)
        guard outcome.succeeded else {
            let message = outcome.standardError.split(separator: "\n").last.map(String.init) ?? "exit \(outcome.status)"
            throw EngineError(.io, "qemu-nbd on \(imagePath) failed: \(message)")
        }
        if case .writable = access {
            let fd = open(imagePath, O_RDONLY | O_CLOEXEC)
            guard fd >= 0, fsync(fd) == 0 else {
                let reason = String(cString: strerror(errno))
                if fd >= 0 { close(fd) }
                throw EngineError(.io, "cannot sync \(imagePath): \(reason)")
            }
            close(fd)
        }
    }

    /// The qemu-nbd command line (no `--persistent`: it exits when its one client leaves).
    public static func arguments(image: String, format: String, access: Access, socket: String) -> [String] {
        var args = ["--socket=\(socket)", "--shared=1"]
        switch access {
        case .readOnly(let forceShare, let direct) where forceShare:
            // qemu-nbd 7.2 has no --force-share; the block layer option does the same.
            let file = image.replacingOccurrences(of: ",", with: ",,")
            args += ["--read-only", "--image-opts"] + (direct ? ["--cache=none"] : [])
            args.append("driver=\(format),read-only=on,force-share=on,file.driver=file,file.filename=\(file)")
            return args
        case .readOnly(_, let direct):
            args += ["--read-only", "--format=\(format)"] + (direct ? ["--cache=none"] : [])
        case .writable(let cache):
            args += ["--format=\(format)", "--cache=\(cache.rawValue)"]
        }
        return args + [ImageTool.operand(image)]
    }

    private static func makePrivateDirectory() throws(EngineError) -> String {
        let base = ProcessInfo.processInfo.environment["TMPDIR"].flatMap { $0.isEmpty ? nil : $0 } ?? "/tmp"
        sweepOrphans(in: base)
        var template = Array("\(base)/\(directoryPrefix)XXXXXX".utf8CString)
        guard let made = template.withUnsafeMutableBufferPointer({ buffer in buffer.baseAddress.flatMap { mkdtemp($0) } }) else {
            throw EngineError(.io, "cannot create a private directory in \(base): \(String(cString: strerror(errno)))")
        }
        let path = String(cString: made)
        chmod(path, 0o700)  // mkdtemp's default already; said explicitly because the socket's privacy rests on it
        do { try writeOwner(path) } catch { rmdir(path); throw error }
        return path
    }

    /// Connects as soon as the socket accepts; fails early when qemu-nbd exits instead.
    private static func connectWhenListening(_ socket: String, child: ExternalProcess.Child, timeout: Double) throws(EngineError) -> NBDClient {
        let clock = ContinuousClock()
        let deadline = clock.now.advanced(by: .milliseconds(Int64(max(timeout, 0.1) * 1000)))
        var delay: UInt32 = 1000
        while true {
            if FileManager.default.fileExists(atPath: socket) {
                do { return try NBDClient(socketPath: socket) } catch  where child.hasExited { break } catch {
                    if clock.now >= deadline { throw error }
                }
            }
            if child.hasExited { break }
            if clock.now >= deadline { throw EngineError(.io, "qemu-nbd did not listen on \(socket) within \(timeout) s") }
            usleep(delay)
            delay = min(delay * 2, 50_000)
        }
        let outcome = child.wait(timeout: .seconds(5))
        let message = outcome.standardError.trimmingCharacters(in: .whitespacesAndNewlines)
        throw EngineError(.io, "qemu-nbd failed: \(message.isEmpty ? "exit \(outcome.status)" : message.replacingOccurrences(of: "\n", with: " "))")
    }

    /// Waits (a little) for qemu-nbd to leave after its client did, then terminates it;
    /// removes the socket and the directory.
    @discardableResult
    private static func stop(
        _ child: ExternalProcess.Child, directory: String, socket: String,
        grace: Duration = .seconds(10)
    ) -> ExternalProcess.Outcome {
        let clock = ContinuousClock()
        let end = clock.now.advanced(by: grace)
        while !child.hasExited, clock.now < end { usleep(2000) }
        if !child.hasExited { child.signal(SIGTERM) }
        let outcome = child.wait(timeout: .seconds(10))
        unlink(socket)
        unlink(directory + "/" + ownerFile)
        rmdir(directory)
        return outcome
    }
}
