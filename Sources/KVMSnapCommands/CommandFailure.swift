import ArgumentParser
import Foundation
import KVMSnapCore
import Libvirt
import Notify
import SnapshotCatalog
import SnapshotEngine

/// The one error type of the command layer: a one-line message and an exit status.
///
/// Exit statuses (documented in README.md):
/// - 1 the operation failed (libvirt, I/O, catalog, a hook or command)
/// - 2 the VM or snapshot does not exist
/// - 3 conflict: a name is taken, the VM's state refuses the operation, or it is unsupported
/// - 64 bad input (usage); nothing was changed
/// - 75 the VM is busy with another kvmsnap operation (try again)
public struct CommandFailure: Error, CustomStringConvertible {
    public var message: String
    public var exitCode: Int32
    public var description: String { message }

    public init(_ message: String, exitCode: Int32 = 1) { self.message = message; self.exitCode = exitCode }

    /// Maps every lower layer's error to a message and exit status, in one place.
    public static func from(_ error: any Error) -> CommandFailure? {
        switch error {
        case let failure as CommandFailure:
            return failure
        case let engine as EngineError:
            let code: Int32 =
                switch engine.code {
                case .invalidInput: 64
                case .notFound: 2
                case .conflict, .unsupported: 3
                case .busy: 75
                case .libvirt, .catalog, .io, .external: 1
                }
            return CommandFailure(engine.message, exitCode: code)
        case let notify as NotifyError:
            let code: Int32 =
                switch notify.code {
                case .invalidInput: 64
                case .notFound: 2
                case .conflict, .unsupported: 3
                case .catalog, .delivery: 1
                }
            return CommandFailure(notify.message, exitCode: code)
        case let libvirt as LibvirtError:
            return CommandFailure(libvirt.message.isEmpty ? "\(libvirt)" : libvirt.message, exitCode: libvirt.code == .noDomain ? 2 : 1)
        case let catalog as CatalogError:
            // Something that is not a kvmsnap catalog at the path is a conflict: it is refused, never touched.
            return CommandFailure(catalog.message, exitCode: catalog.code == .notACatalog ? 3 : 1)
        case let retention as RetentionError:
            return CommandFailure("\(retention)", exitCode: 64)
        case let timeline as TimelineError:
            return CommandFailure("\(timeline)", exitCode: 64)
        case let cron as CronError:
            return CommandFailure(cron.description, exitCode: 64)
        case let spec as SpecError:  // a refused duration or date: bad input, as the engine's invalidInput
            return CommandFailure(spec.message, exitCode: 64)
        default:
            return nil
        }
    }
}
