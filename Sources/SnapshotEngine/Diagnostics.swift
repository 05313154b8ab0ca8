import Foundation
import Logging
import SnapshotCatalog

/// Where the engine reports failures it does not throw: a catalog write that only records
/// progress, a hook table it cannot read, a best-effort clean-up. Through swift-log, so a test
/// reads them with an in-memory handler and the CLI prints them on standard error.
public struct Diagnostics: Sendable {
    public var logger: Logger

    public init(logger: Logger) { self.logger = logger }

    /// Warnings and worse on standard error (never standard output: `--json` stays parseable).
    public static let standardError = Diagnostics(logger: Logger(label: "kvmsnap.engine") { _ in StandardErrorLogHandler() })

    /// A failure the operation goes on after: what was being done, and why it failed.
    func swallowed(_ what: String, _ error: any Error) {
        logger.warning("\(what) failed: \(Self.message(error))", metadata: ["what": "\(what)"])
    }

    static func message(_ error: any Error) -> String {
        switch error {
        case let error as EngineError: error.message
        case let error as CatalogError: error.message
        default: "\(error)"
        }
    }
}

/// One line per event on standard error, as the CLI prints its other messages:
/// `kvmsnap: warning: <message>`. Warnings and worse only.
struct StandardErrorLogHandler: LogHandler {
    var metadata: Logger.Metadata = [:]
    var metadataProvider: Logger.MetadataProvider?
    var logLevel: Logger.Level = .warning

    func log(event: LogEvent) {
        FileHandle.standardError.write(Data("kvmsnap: \(event.level): \(event.message)\n".utf8))
    }

    subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { metadata[key] }
        set { metadata[key] = newValue }
    }
}
