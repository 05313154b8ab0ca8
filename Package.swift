// swift-tools-version: 6.1
import PackageDescription

let package = Package(
    name: "kvmsnap",
    platforms: [.macOS(.v15)],
    products: [
        .executable(name: "kvmsnap", targets: ["kvmsnap"]),
        .library(name: "Libvirt", targets: ["Libvirt"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.8.2"),
        .package(url: "https://github.com/groue/GRDB.swift", from: "7.10.0"),
        .package(url: "https://github.com/x-sheep/swift-property-based", from: "2.0.1"),
        .package(url: "https://github.com/swift-server/swift-prometheus", from: "2.4.1"),
        .package(url: "https://github.com/apple/swift-log", from: "1.16.2"),
        // `swift package generate-documentation --target Libvirt` (DocC); a command plugin only,
        // nothing of it is built into kvmsnap.
        .package(url: "https://github.com/swiftlang/swift-docc-plugin", from: "1.5.0"),
        .package(url: "https://github.com/apple/swift-crypto", from: "3.12.3"),
        // The S3 vault backend's HTTP client (VaultS3 only; the Vault module stays free of NIO).
        .package(url: "https://github.com/swift-server/async-http-client", exact: "1.37.0"),
        // `kvmsnap serve`: the web panel and its JSON API (issue 16).
        .package(url: "https://github.com/hummingbird-project/hummingbird", from: "2.28.1"),
    ],
    targets: [
        // The only place that mentions libvirt's C headers.
        .systemLibrary(
            name: "Clibvirt",
            pkgConfig: "libvirt",
            providers: [.apt(["libvirt-dev"])]
        ),
        // Safe Swift wrapper over libvirt: handles, typed errors, flags. No policy.
        .target(name: "Libvirt", dependencies: ["Clibvirt"]),
        // The only place that mentions zstd's C header.
        .systemLibrary(
            name: "Czstd",
            pkgConfig: "libzstd",
            providers: [.apt(["libzstd-dev"])]
        ),
        // Pure logic: retention planning, layer tree, restore plans, names, durations.
        .target(name: "KVMSnapCore"),
        // SQLite catalog through GRDB: schema, migrations, records, job journal.
        .target(
            name: "SnapshotCatalog",
            dependencies: ["KVMSnapCore", .product(name: "GRDB", package: "GRDB.swift")]
        ),
        // The vault's repository: chunk codec (zstd, AES-256-GCM), keys, backends, send/restore over
        // abstract block sources and sinks, verify, prune, gc. No libvirt, no processes.
        .target(
            name: "Vault",
            dependencies: [
                "KVMSnapCore", "Czstd",
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "_CryptoExtras", package: "swift-crypto"),
            ]
        ),
        // The only place that mentions OpenSSL's C headers (TLS for alert targets).
        .systemLibrary(
            name: "CTLS",
            pkgConfig: "openssl",
            providers: [.apt(["libssl-dev"])]
        ),
        // Alerts: targets, rules, the outbox of events and deliveries, and the senders (HTTP/1.1
        // and SMTP over TCP, TLS through OpenSSL). No libvirt, no processes.
        .target(name: "Notify", dependencies: ["KVMSnapCore", "SnapshotCatalog", "CTLS"]),
        // The S3 vault backend: SigV4 signing (pure) and a synchronous VaultBackend over
        // async-http-client.
        .target(
            name: "VaultS3",
            dependencies: [
                "Vault", .product(name: "AsyncHTTPClient", package: "async-http-client"),
                .product(name: "Crypto", package: "swift-crypto"),
            ]
        ),
        // Capture, revert, delete/merge, restore pipeline: the impure shell over the core.
        .target(
            name: "SnapshotEngine",
            dependencies: [
                "Libvirt", "KVMSnapCore", "SnapshotCatalog", "Vault", "VaultS3", "Notify", .product(name: "Logging", package: "swift-log"),
            ]
        ),
        // ArgumentParser commands, output formatting, exit codes.
        .target(
            name: "KVMSnapCommands",
            dependencies: [
                "Libvirt", "KVMSnapCore", "SnapshotCatalog", "SnapshotEngine", "Notify",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "Prometheus", package: "swift-prometheus"),
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "HummingbirdTLS", package: "hummingbird"),
                .product(name: "Crypto", package: "swift-crypto"),
            ],
            // The KVMSNAP_TEST_* fault-injection variables are read only in debug builds (the
            // tests run those); a release binary ignores them.
            swiftSettings: [.define("KVMSNAP_TESTING", .when(configuration: .debug))]
        ),
        .executableTarget(name: "kvmsnap", dependencies: ["KVMSnapCommands"]),
        // Throughput of the vault's stages (CDC, hashing, zstd, whole store); not installed.
        .executableTarget(name: "vault-bench", dependencies: ["Vault", "KVMSnapCore"]),

        .testTarget(name: "LibvirtTests", dependencies: ["Libvirt"]),
        // Helpers shared by several test targets (seeded RNG, snapshot JSON fixtures).
        .target(
            name: "TestSupport",
            dependencies: ["KVMSnapCommands", "SnapshotEngine", "SnapshotCatalog"],
            path: "Tests/TestSupport"
        ),
        // Pure tests of the engine and the commands: no libvirtd, no guest, no kvmsnap binary.
        .testTarget(
            name: "SnapshotEngineTests",
            dependencies: [
                "SnapshotEngine", "SnapshotCatalog", "KVMSnapCore", "Libvirt", "Vault",
                .product(name: "Logging", package: "swift-log"), .product(name: "InMemoryLogging", package: "swift-log"),
            ]
        ),
        .testTarget(name: "KVMSnapCommandsTests", dependencies: ["KVMSnapCommands", "SnapshotEngine", "SnapshotCatalog", "TestSupport"]),
        .testTarget(
            name: "KVMSnapCoreTests",
            dependencies: ["KVMSnapCore", "TestSupport", .product(name: "PropertyBased", package: "swift-property-based")],
            resources: [.copy("Resources")]
        ),
        .testTarget(name: "SnapshotCatalogTests", dependencies: ["SnapshotCatalog"]),
        .testTarget(name: "VaultTests", dependencies: ["Vault", "KVMSnapCore", "TestSupport"]),
        // SigV4 against AWS's published vectors; the S3 backend against a real S3 server (moto).
        .testTarget(name: "VaultS3Tests", dependencies: ["VaultS3", "Vault", "KVMSnapCore"]),
        // Real libvirtd (qemu:///system) + the test guest; also runs the built kvmsnap binary.
        .testTarget(
            name: "IntegrationTests",
            dependencies: ["Libvirt", "KVMSnapCore", "SnapshotCatalog", "SnapshotEngine", "KVMSnapCommands", "TestSupport", "Vault", "Notify"]
        ),
    ],
    swiftLanguageModes: [.v6]
)
