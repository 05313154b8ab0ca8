import Logging
import SnapshotCatalog

/// Where the engine reports failures it does not throw: a catalog write that only records
/// progress, a hook table it cannot read, a best-effort clean-up. Through swift-log, so a test
/// reads them with an in-memory handler and the CLI prints them on standard error.
public struct Diagnostics: Sendable {
    public var logger: Logger

    public init(logger: Logger) { self.logger = logger }

    /// Warnings and worse on standard error (never standard output: `--json` stays parseable).
    public static let standardError = Diagnostics(logger: {
        var logger = Logger(label: "kvmsnap.engine") { StreamLogHandler.standardError(label: $0) }
        logger.logLevel = .warning
        return logger
    }())

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
