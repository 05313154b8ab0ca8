import Clibvirt

extension Domain {
    /// Sends one command to the QEMU guest agent (a JSON object such as
    /// `{"execute":"guest-ping"}`) and returns the agent's JSON reply. `timeoutSeconds` is how
    /// long libvirt waits for the answer (libvirt-qemu, QEMU driver only).
    /// See also https://libvirt.org/html/libvirt-libvirt-qemu.html#virDomainQemuAgentCommand
    public func agentCommand(_ json: String, timeoutSeconds: Int32) throws(LibvirtError) -> String {
        try takeString(virDomainQemuAgentCommand(handle, json, timeoutSeconds, 0))
    }

    /// Throws unless the guest agent answers `guest-ping` within `timeoutSeconds`.
    public func pingAgent(timeoutSeconds: Int32 = 5) throws(LibvirtError) {
        _ = try agentCommand(#"{"execute":"guest-ping"}"#, timeoutSeconds: timeoutSeconds)
    }
}
