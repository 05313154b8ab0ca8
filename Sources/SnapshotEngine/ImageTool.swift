import Foundation

/// The one component that runs `qemu-img` directly.
///
/// libvirt offers no API for these operations, so they work only when the images are on the
/// machine kvmsnap runs on (they fail clearly over a remote `--connect`):
/// - `info`: allocation and backing chain of an image that no domain holds open for writing;
/// - `flatten`: a standalone copy of a frozen chain (`--full`, `export-disk`);
/// - `commitOffline`/`rebaseUnsafe`: merging layers that are not in a running domain's chain;
/// - `createOverlay`: new overlays for reverts (QEMU images are opened with `-U`, never locked).
/// Everything on a running domain's chain goes through libvirt block jobs instead.
public enum ImageTool {
    public struct Info: Sendable, Equatable {
        public var format: String
        public var virtualSize: Int64
        public var actualSize: Int64
        public var backingFile: String?
    }

    /// A path as a qemu-img operand: one starting with '-' (`--to=-h`) gets `./` so it cannot be
    /// read as an option.
    static func operand(_ path: String) -> String { path.hasPrefix("-") ? "./" + path : path }

    static func qemuImg(_ args: [String]) throws(EngineError) -> String {
        let outcome: ExternalProcess.Outcome
        do { outcome = try ExternalProcess.run("qemu-img", args) } catch { throw EngineError(.io, "\(error)") }
        guard outcome.succeeded else {
            let message = outcome.standardError.trimmingCharacters(in: .whitespacesAndNewlines)
            throw EngineError(.io, "qemu-img \(args.first ?? "") failed: \(message.split(separator: "\n").last.map(String.init) ?? "exit \(outcome.status)")")
        }
        return outcome.standardOutput
    }

    public static func info(_ path: String) throws(EngineError) -> Info {
        let json = try qemuImg(["info", "-U", "--output=json", operand(path)])
        guard let object = try? JSONSerialization.jsonObject(with: Data(json.utf8)) as? [String: Any] else {
            throw EngineError(.io, "qemu-img info gave unreadable output for \(path)")
        }
        return Info(
            format: object["format"] as? String ?? "raw",
            virtualSize: (object["virtual-size"] as? NSNumber)?.int64Value ?? 0,
            actualSize: (object["actual-size"] as? NSNumber)?.int64Value ?? 0,
            backingFile: (object["full-backing-filename"] as? String) ?? (object["backing-filename"] as? String))
    }

    /// The images `path` reads through, top first, as absolute paths (`qemu-img info --backing-chain`).
    /// Fails when any of them is missing or unreadable.
    public static func backingChain(_ path: String) throws(EngineError) -> [String] {
        let json = try qemuImg(["info", "-U", "--backing-chain", "--output=json", path])
        guard let images = try? JSONSerialization.jsonObject(with: Data(json.utf8)) as? [[String: Any]] else {
            throw EngineError(.io, "qemu-img info gave unreadable output for \(path)")
        }
        // A relative backing file name is relative to the directory of the image that names it.
        var chain: [String] = []
        for image in images {
            guard let name = image["filename"] as? String else { break }
            let base = chain.last.map { ($0 as NSString).deletingLastPathComponent } ?? FileManager.default.currentDirectoryPath
            let absolute = name.hasPrefix("/") ? name : (base as NSString).appendingPathComponent(name)
            chain.append((absolute as NSString).standardizingPath)
        }
        return chain
    }

    /// Bytes allocated on the host filesystem for `path` (0 when it does not exist).
    public static func allocatedBytes(_ path: String) -> Int64 {
        var st = stat()
        guard stat(path, &st) == 0 else { return 0 }
        return Int64(st.st_blocks) * 512
    }

    public static func createOverlay(path: String, backing: String, backingFormat: String) throws(EngineError) {
        // -b/-F, not -o backing_file=…: a ',' in a VM's image path would start another -o option.
        _ = try qemuImg(["create", "-q", "-f", "qcow2", "-b", backing, "-F", backingFormat, operand(path)])
        chmod(path, 0o600)
    }

    /// The file ``flatten(source:to:format:beforeMove:)`` writes before it moves it to `destination`.
    public static func partialPath(_ destination: String) -> String { destination + ".partial" }

    /// Writes the content `source` (with its whole backing chain) reads as one standalone image.
    /// `beforeMove` runs once the copy is complete under its temporary name, before it is moved into place.
    public static func flatten(
        source: String, to destination: String, format: String = "qcow2",
        beforeMove: () throws(EngineError) -> Void = {}
    ) throws(EngineError) {
        let partial = partialPath(destination)
        unlink(partial)
        _ = try qemuImg(["convert", "-U", "-O", format, "-W", "-m", "4", operand(source), operand(partial)])
        chmod(partial, 0o600)
        try beforeMove()
        guard rename(partial, destination) == 0 else {
            throw EngineError(.io, "cannot move \(partial) into place: \(String(cString: strerror(errno)))")
        }
    }

    /// Writes `child`'s clusters into its backing file and leaves `child` intact (`-d`), so the
    /// content of `child` and anything above it reads the same during and after the commit.
    public static func commitOffline(child: String) throws(EngineError) {
        _ = try qemuImg(["commit", "-q", "-d", operand(child)])
    }

    /// Changes the recorded backing file without copying data: only valid when the new backing
    /// file reads exactly like the old one (after a commit).
    public static func rebaseUnsafe(image: String, newBacking: String, backingFormat: String) throws(EngineError) {
        _ = try qemuImg(["rebase", "-u", "-b", newBacking, "-F", backingFormat, operand(image)])
    }
}
