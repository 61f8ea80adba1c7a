// swift-tools-version:6.1
import PackageDescription

let package = Package(
    name: "sitevault",
    platforms: [.macOS(.v13)],
    products: [
        .executable(name: "sitevault", targets: ["sitevault"]),
        .library(name: "VaultRepository", targets: ["VaultRepository"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-crypto", exact: "3.12.3"),
        .package(url: "https://github.com/apple/swift-argument-parser", exact: "1.8.2"),
        // The web console only (SiteConsole); its default traits (swift-configuration) are not needed.
        .package(url: "https://github.com/hummingbird-project/hummingbird", exact: "2.28.1", traits: []),
        // The console's TLS (HummingbirdTLS builds on it; named here for NIOSSLContext, which checks the key).
        .package(url: "https://github.com/apple/swift-nio-ssl", exact: "2.37.6"),
    ],
    targets: [
        .systemLibrary(name: "CZstd", pkgConfig: "libzstd", providers: [.apt(["libzstd-dev"])]),
        .target(name: "VaultCore"),
        .target(name: "VaultCrypto", dependencies: [
            "VaultCore",
            .product(name: "Crypto", package: "swift-crypto"),
            .product(name: "_CryptoExtras", package: "swift-crypto"),
        ]),
        .target(name: "VaultStorage", dependencies: ["VaultCore", .product(name: "Crypto", package: "swift-crypto")]),
        .systemLibrary(name: "CLinux"),
        .target(name: "VaultFileSystem", dependencies: ["VaultCore", "CLinux"]),
        .target(name: "VaultRepository", dependencies: ["VaultCore", "VaultCrypto", "VaultStorage", "CZstd"]),
        .target(name: "VaultArchiver", dependencies: ["VaultRepository", "VaultFileSystem"]),
        .target(name: "VaultRestorer", dependencies: ["VaultRepository", "VaultFileSystem"]),
        .target(name: "VaultMaintenance", dependencies: ["VaultRepository"]),
        .systemLibrary(name: "CSQLite", pkgConfig: "sqlite3", providers: [.apt(["libsqlite3-dev"])]),
        .target(name: "SiteTOML"),
        .target(name: "SiteSystem", dependencies: ["VaultCore"]),
        .target(name: "SiteBackup", dependencies: [
            "VaultArchiver", "VaultRestorer", "VaultMaintenance", "SiteTOML", "SiteSystem", "CSQLite",
        ]),
        .target(name: "SiteService", dependencies: ["SiteBackup", "SiteSystem", "VaultCore"]),
        .target(name: "SiteConsole", dependencies: [
            "SiteService", "SiteBackup", "VaultCore", "VaultCrypto",
            .product(name: "Crypto", package: "swift-crypto"),
            .product(name: "Hummingbird", package: "hummingbird"),
            .product(name: "HummingbirdTLS", package: "hummingbird"),
            .product(name: "NIOSSL", package: "swift-nio-ssl"),
        ]),
        .target(name: "VaultTesting", dependencies: ["VaultRepository", "VaultArchiver", "VaultRestorer", "VaultStorage"]),
        .executableTarget(name: "sitevault", dependencies: [
            "VaultArchiver", "VaultRestorer", "VaultMaintenance", "SiteBackup", "SiteService", "SiteConsole",
            .product(name: "ArgumentParser", package: "swift-argument-parser"),
        ]),
        .testTarget(name: "VaultCoreTests", dependencies: ["VaultCore", "VaultCrypto"]),
        .testTarget(name: "VaultRepositoryTests", dependencies: ["VaultRepository", "VaultTesting", "VaultCore", "VaultCrypto", "VaultStorage"]),
        .testTarget(name: "VaultArchiverTests", dependencies: ["VaultArchiver", "VaultRestorer", "VaultTesting", "VaultCore", "VaultMaintenance"]),
        .testTarget(name: "VaultStorageTests", dependencies: ["VaultStorage", "VaultTesting", "VaultCore"]),
        .testTarget(name: "VaultMaintenanceTests", dependencies: ["VaultMaintenance", "VaultArchiver", "VaultRestorer", "VaultTesting", "VaultCore", "VaultCrypto", "VaultStorage"]),
        .testTarget(name: "SiteTOMLTests", dependencies: ["SiteTOML"]),
        .testTarget(name: "SiteSystemTests", dependencies: ["SiteSystem", "VaultCore"]),
        .testTarget(name: "SiteBackupTests", dependencies: ["SiteBackup", "VaultTesting", "VaultCore", "VaultRepository"]),
        .testTarget(name: "SiteConsoleTests", dependencies: ["SiteConsole", "VaultCore"]),
        .testTarget(name: "SitevaultCLITests", dependencies: ["VaultTesting", "VaultRepository", "VaultCore", "VaultStorage", "SiteSystem"]),
    ],
    swiftLanguageModes: [.v5]
)

// Complete concurrency checking (the Swift 6 rules, as warnings in the Swift 5 language mode) for
// every library and the executable: CI builds this way, and what it finds is fixed.
for target in package.targets where target.type == .regular || target.type == .executable {
    target.swiftSettings = (target.swiftSettings ?? []) + [.enableExperimentalFeature("StrictConcurrency")]
}
