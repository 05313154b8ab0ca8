import Clibvirt

// Async forms of the polling waits: they sleep with `Task.sleep` between
// polls instead of blocking a thread. Each libvirt call and its error read
// still happen together on one thread, with no suspension between them.

extension Domain {
    /// Asks the guest to shut down, then polls (without blocking a thread)
    /// until it is shut off. Throws `.operationTimeout` (domain `.swiftWrapper`)
    /// after `timeout`, `.operationAborted` when the task is cancelled.
    /// See also https://libvirt.org/html/libvirt-libvirt-domain.html#virDomainShutdownFlags
    public func shutdown(
        timeout: Duration, pollInterval: Duration = .milliseconds(200), flags: DomainShutdownFlags = []
    ) async throws(LibvirtError) {
        let clock = ContinuousClock()
        let deadline = clock.now.advanced(by: timeout)
        if try state().state == .shutoff { return }
        try shutdown(flags: flags)
        while true {
            if try state().state == .shutoff { return }
            if clock.now >= deadline {
                throw LibvirtError.timeout("domain '\(name)' did not shut down within \(timeout)")
            }
            try await pause(pollInterval)
        }
    }

    /// Polls (without blocking a thread) until the disk's block job is ready
    /// (`cur == end`); nil when the job vanished meanwhile. Throws
    /// `.operationTimeout` after `timeout`, `.operationAborted` on cancellation.
    /// See also https://libvirt.org/html/libvirt-libvirt-domain.html#virDomainGetBlockJobInfo
    @discardableResult
    public func waitForBlockJob(
        disk: String, timeout: Duration, pollInterval: Duration = .milliseconds(100)
    ) async throws(LibvirtError) -> BlockJobInfo? {
        let clock = ContinuousClock()
        let deadline = clock.now.advanced(by: timeout)
        while true {
            guard let info = try blockJobInfo(disk: disk) else { return nil }
            if info.isReady { return info }
            if clock.now >= deadline {
                throw LibvirtError.timeout(
                    "block job on disk '\(disk)' of domain '\(name)' not ready within \(timeout) (\(info.cur)/\(info.end))")
            }
            try await pause(pollInterval)
        }
    }
}

private func pause(_ duration: Duration) async throws(LibvirtError) {
    do {
        try await Task.sleep(for: duration)
    } catch {
        throw LibvirtError(code: .operationAborted, domain: .swiftWrapper, message: "wait cancelled")
    }
}
