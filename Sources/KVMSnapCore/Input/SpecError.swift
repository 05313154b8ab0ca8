/// A command-line duration or date (``TimeoutSpec``, ``ExpirySpec``) that is refused, with the
/// message the user sees. The engine turns it into its `invalidInput` error; the commands map it
/// to exit status 64 (bad input), as they do that error.
public struct SpecError: Error, Equatable, Sendable, CustomStringConvertible {
    public var message: String
    public var description: String { message }
    public init(_ message: String) { self.message = message }
}
