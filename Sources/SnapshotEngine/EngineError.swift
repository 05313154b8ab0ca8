import KVMSnapCore

/// The one error type of the engine layer. The CLI maps `code` to an exit status.
public struct EngineError: Error, CustomStringConvertible, Sendable, Equatable {
    public enum Code: String, Sendable, Equatable {
        /// Bad user input: names, durations, flags. Nothing was changed.
        case invalidInput
        /// The VM, snapshot or disk does not exist.
        case notFound
        /// A snapshot name is taken, or the VM is in a state the operation refuses.
        case conflict
        /// Another kvmsnap operation holds the VM.
        case busy
        /// libvirt or QEMU refused or failed.
        case libvirt
        /// The catalog could not be read or written.
        case catalog
        /// A file could not be read, written or removed.
        case io
        /// The VM has something kvmsnap cannot handle (e.g. internal snapshots, a vmdk disk).
        case unsupported
        /// A hook, the guest agent, or a guarded command failed.
        case external
    }
    public var code: Code
    public var message: String
    public var description: String { message }
    public init(_ code: Code, _ message: String) { self.code = code; self.message = message }
}

extension EngineError {
    /// A duration or date the core refused (``SpecError``): bad input, with the core's message.
    init(_ refused: SpecError) { self.init(.invalidInput, refused.message) }
}
