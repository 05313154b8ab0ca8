/// The one error type of the alerts layer. The CLI maps `code` to an exit status.
public struct NotifyError: Error, CustomStringConvertible, Sendable, Equatable {
    public enum Code: String, Sendable, Equatable {
        /// A refused flag, name, URL or secret file: nothing was changed.
        case invalidInput
        /// No such target or rule.
        case notFound
        /// A target of that name exists.
        case conflict
        /// A target kind this version does not know (a newer kvmsnap recorded it).
        case unsupported
        /// The catalog could not be read or written.
        case catalog
        /// The receiver could not be reached or refused the message.
        case delivery
    }
    public var code: Code
    public var message: String
    public var description: String { message }
    public init(_ code: Code, _ message: String) { self.code = code; self.message = message }
}
