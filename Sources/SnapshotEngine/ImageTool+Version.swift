extension ImageTool {
    /// The `qemu-img` kvmsnap would run (first on PATH), or nil when there is none.
    public static var executablePath: String? { ExternalProcess.resolve("qemu-img") }

    /// `qemu-img --version`'s output (for `kvmsnap doctor`).
    /// - Throws: `EngineError` (`.io`) when qemu-img is missing or fails.
    public static func versionText() throws(EngineError) -> String { try qemuImg(["--version"]) }
}
