import ArgumentParser

public struct KVMSnap: ParsableCommand {
    public static let configuration = CommandConfiguration(commandName: "kvmsnap", abstract: "Snapshots for KVM/QEMU hosts.")
    public init() {}
}
