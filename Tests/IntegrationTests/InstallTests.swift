import Foundation
import KVMSnapCommands
import SnapshotEngine
import Testing

/// scripts/install.sh and scripts/package-deb.sh, run as a user runs them, with the debug
/// binary (`KVMSNAP_INSTALL_BINARY` / `KVMSNAP_DEB_BINARY`: a release build takes many minutes
/// on two cores). The man page comes from ArgumentParser's generate-manual; install.sh builds
/// that tool once into .build/generate-manual (about a minute) when it is not there yet.
@Suite(.serialized) struct InstallTests {
    static let root = IntegrationEnvironment.packageRoot

    /// Runs a script or program; stdout and stderr are kept for the failure message.
    static func run(_ program: String, _ args: [String], environment: [String: String] = [:], timeout: Double = 600) throws -> CLI.Result {
        let outcome = try ExternalProcess.run(program, args, environment: environment, timeout: .seconds(timeout))
        return CLI.Result(status: outcome.status, stdout: outcome.standardOutput, stderr: outcome.standardError)
    }

    /// Every path under `dir` (files, links and directories), relative, with its kind.
    static func tree(_ dir: String) -> Set<String> {
        guard let e = FileManager.default.enumerator(atPath: dir) else { return [] }
        return Set(
            e.compactMap { item -> String? in
                guard let path = item as? String else { return nil }
                var isDirectory: ObjCBool = false
                _ = FileManager.default.fileExists(atPath: dir + "/" + path, isDirectory: &isDirectory)
                return "\(isDirectory.boolValue ? "d" : "f") \(path)"
            })
    }

    static func makeScratch(_ label: String) throws -> String {
        try FileManager.default.createDirectory(atPath: IntegrationEnvironment.scratchRoot, withIntermediateDirectories: true)
        let dir = IntegrationEnvironment.scratchRoot + "/\(label)-\(UUID().uuidString.prefix(8))"
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        return dir
    }

    @Test func installPutsEverythingInPlaceAndUninstallLeavesThePrefixAsBefore() throws {
        let scratch = try Self.makeScratch("install")
        defer { try? FileManager.default.removeItem(atPath: scratch) }
        let prefix = scratch + "/prefix"
        // Things that were there before: the install must neither remove nor adopt them.
        try FileManager.default.createDirectory(atPath: prefix + "/bin", withIntermediateDirectories: true)
        try FileManager.default.createDirectory(atPath: prefix + "/share/man/man1", withIntermediateDirectories: true)
        try Data("#!/bin/sh\n".utf8).write(to: URL(fileURLWithPath: prefix + "/bin/other-tool"))
        try Data(".TH OTHER 1\n".utf8).write(to: URL(fileURLWithPath: prefix + "/share/man/man1/other.1"))
        let before = Self.tree(prefix)
        let environment = ["KVMSNAP_INSTALL_BINARY": CLI.binary]

        let install = try Self.run(Self.root + "/scripts/install.sh", ["--prefix", prefix], environment: environment)
        #expect(install.status == 0, "\(install.stderr)")

        // The binary runs from the prefix.
        let version = try Self.run(prefix + "/bin/kvmsnap", ["--version"])
        #expect(version.stdout == KVMSnap.version + "\n")

        // man finds the page in the standard place and it documents the subcommands.
        let manPath = try Self.run("/usr/bin/man", ["-w", "kvmsnap"], environment: ["MANPATH": prefix + "/share/man"])
        #expect(manPath.stdout == prefix + "/share/man/man1/kvmsnap.1\n", "\(manPath.stderr)")
        let page = try Self.run("/usr/bin/man", ["-P", "cat", "-l", prefix + "/share/man/man1/kvmsnap.1"], environment: ["MANWIDTH": "100"])
        #expect(page.status == 0)
        for text in ["Snapshot a VM: memory", "Check the host: libvirt", "install-systemd", "--keep-daily N"] {
            #expect(page.stdout.contains(text), "man page lacks \(text)")
        }

        // bash completes "kvmsnap do" to doctor with the installed script.
        let bash = try Self.run(
            "/bin/bash",
            [
                "-c",
                """
                source "$1"; COMP_WORDS=(kvmsnap do); COMP_CWORD=1; COMP_LINE="kvmsnap do"; COMP_POINT=10
                $(complete -p kvmsnap | sed -n 's/.*-F \\([^ ]*\\).*/\\1/p') kvmsnap do kvmsnap
                printf '%s\\n' "${COMPREPLY[@]}"
                """, "bash", prefix + "/share/bash-completion/completions/kvmsnap",
            ], environment: ["PATH": prefix + "/bin:/usr/bin:/bin"])
        #expect(bash.stdout.split(separator: "\n").contains("doctor"), "bash: \(bash.stdout) \(bash.stderr)")
        let zsh = try String(contentsOfFile: prefix + "/share/zsh/site-functions/_kvmsnap", encoding: .utf8)
        #expect(zsh.hasPrefix("#compdef kvmsnap"))
        #expect(zsh.contains("doctor"))
        let fish = try String(contentsOfFile: prefix + "/share/fish/vendor_completions.d/kvmsnap.fish", encoding: .utf8)
        #expect(fish.contains("complete -c 'kvmsnap'") && fish.contains("-fa 'doctor'"))

        // The units run the installed binary.
        let service = try String(contentsOfFile: prefix + "/lib/systemd/system/kvmsnap-run-due.service", encoding: .utf8)
        #expect(service.contains("\nExecStart=\(prefix)/bin/kvmsnap run-due\n"), "\(service)")
        #expect(FileManager.default.fileExists(atPath: prefix + "/lib/systemd/system/kvmsnap-run-due.timer"))

        // The manifest lists exactly what appeared.
        let manifest = try String(contentsOfFile: prefix + "/share/kvmsnap/install-manifest", encoding: .utf8)
        let listed = Set(
            manifest.split(separator: "\n").map { line in
                let kind = line.prefix(1)
                return "\(kind) " + String(line.dropFirst(2).dropFirst(prefix.count + 1))
            })
        #expect(listed == Self.tree(prefix).subtracting(before))
        #expect(listed.contains("f bin/kvmsnap"))
        #expect(!listed.contains("d bin") && !listed.contains("d share/man/man1"))

        // A second install replaces the first; one uninstall then restores the prefix exactly.
        let again = try Self.run(Self.root + "/scripts/install.sh", ["--prefix", prefix], environment: environment)
        #expect(again.status == 0, "\(again.stderr)")
        let uninstall = try Self.run(Self.root + "/scripts/install.sh", ["--prefix", prefix, "--uninstall"])
        #expect(uninstall.status == 0, "\(uninstall.stderr)")
        #expect(Self.tree(prefix) == before)
        // An install that fails halfway (a file where the fish directory goes) takes back what
        // it had put in place and leaves no manifest.
        try Data("not a directory".utf8).write(to: URL(fileURLWithPath: prefix + "/share/fish"))
        let withFish = Self.tree(prefix)
        let broken = try Self.run(Self.root + "/scripts/install.sh", ["--prefix", prefix], environment: environment)
        #expect(broken.status != 0)
        #expect(broken.stderr.contains("install failed: removing what it installed"), "\(broken.stderr)")
        #expect(Self.tree(prefix) == withFish)
        try FileManager.default.removeItem(atPath: prefix + "/share/fish")
        // Nothing installed: uninstall refuses and changes nothing.
        let nothing = try Self.run(Self.root + "/scripts/install.sh", ["--prefix", prefix, "--uninstall"])
        #expect(nothing.status == 1 && nothing.stderr.contains("no install manifest"))
        #expect(Self.tree(prefix) == before)
    }

    /// dpkg waits for no lock: retry while another apt/dpkg holds it.
    static func dpkg(_ args: [String]) throws -> CLI.Result {
        let deadline = Date().addingTimeInterval(120)
        while true {
            let result = try run("/usr/bin/dpkg", args, environment: ["DEBIAN_FRONTEND": "noninteractive"])
            guard result.status != 0, result.stderr.contains("lock"), Date() < deadline else { return result }
            sleep(2)
        }
    }

    @Test func debInstallsRunsAndRemovesCleanly() throws {
        let status = try Self.run("/usr/bin/dpkg-query", ["-W", "-f", "${Status}", "kvmsnap"])
        try #require(
            !status.stdout.contains("installed") || status.stdout.contains("not-installed"),
            "a kvmsnap package is installed on this machine already (\(status.stdout)); remove it first: dpkg -r kvmsnap")
        let scratch = try Self.makeScratch("deb")
        defer { try? FileManager.default.removeItem(atPath: scratch) }
        let build = try Self.run(
            Self.root + "/scripts/package-deb.sh", ["--output", scratch],
            environment: ["KVMSNAP_DEB_BINARY": CLI.binary, "KVMSNAP_DEB_ALLOW_SWIFT_RUNTIME": "1"])
        try #require(build.status == 0, "\(build.stderr)")
        let deb = String(build.stdout.split(separator: "\n").last ?? "")
        #expect(deb == "\(scratch)/kvmsnap_\(KVMSnap.version)_amd64.deb" || deb.hasSuffix(".deb"))

        let info = try Self.run("/usr/bin/dpkg-deb", ["-f", deb, "Package", "Version", "Depends"])
        #expect(info.stdout.contains("Package: kvmsnap\nVersion: \(KVMSnap.version)\n"), "\(info.stdout)")
        let depends = info.stdout.split(separator: "\n").first { $0.hasPrefix("Depends: ") } ?? ""
        #expect(depends.contains("libvirt0") && depends.contains("libsqlite3-0"), "\(depends)")
        let contents = try Self.run("/usr/bin/dpkg-deb", ["-c", deb]).stdout
        let files = contents.split(separator: "\n").compactMap { line -> String? in
            guard line.hasPrefix("-") else { return nil }  // regular files only
            return line.split(separator: " ").last.map { String($0.dropFirst()) }  // "./usr/bin/kvmsnap" → "/usr/bin/kvmsnap"
        }
        for expected in [
            "/usr/bin/kvmsnap", "/usr/share/man/man1/kvmsnap.1.gz", "/usr/share/bash-completion/completions/kvmsnap",
            "/usr/share/zsh/site-functions/_kvmsnap", "/usr/share/fish/vendor_completions.d/kvmsnap.fish",
            "/usr/lib/systemd/system/kvmsnap-run-due.service", "/usr/lib/systemd/system/kvmsnap-run-due.timer",
        ] {
            #expect(files.contains(expected), "package lacks \(expected)")
        }
        #expect(!files.contains { $0.contains("install-manifest") })
        for file in files { try #require(!FileManager.default.fileExists(atPath: file), "\(file) exists before the install") }

        let install = try Self.dpkg(["-i", deb])
        defer { _ = try? Self.dpkg(["-r", "kvmsnap"]) }
        try #require(install.status == 0, "\(install.stderr)")
        let version = try Self.run("/usr/bin/kvmsnap", ["--version"])
        #expect(version.stdout == KVMSnap.version + "\n")
        let service = try String(contentsOfFile: "/usr/lib/systemd/system/kvmsnap-run-due.service", encoding: .utf8)
        #expect(service.contains("\nExecStart=/usr/bin/kvmsnap run-due\n"), "\(service)")

        let remove = try Self.dpkg(["-r", "kvmsnap"])
        #expect(remove.status == 0, "\(remove.stderr)")
        for file in files { #expect(!FileManager.default.fileExists(atPath: file), "\(file) left behind") }
        let after = try Self.run("/usr/bin/dpkg-query", ["-W", "-f", "${Status}", "kvmsnap"])
        #expect(after.status != 0 || after.stdout.contains("not-installed"), "\(after.stdout)")
    }
}
