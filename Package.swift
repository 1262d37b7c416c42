// swift-tools-version:6.0
import PackageDescription

let package = Package(
    name: "Purr",
    platforms: [.macOS(.v15)],
    products: [
        .executable(name: "purr-server", targets: ["purr-server"]),
        .executable(name: "purr", targets: ["purr"]),
        .executable(name: "purr-bench", targets: ["purr-bench"]),
        .executable(name: "purr-tui", targets: ["purr-tui"]),
        .library(name: "PurrCore", targets: ["PurrCore"]),
        .library(name: "PurrServer", targets: ["PurrServer"]),
        .library(name: "PurrClient", targets: ["PurrClient"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-nio.git", from: "2.101.2"),
        .package(url: "https://github.com/apple/swift-argument-parser.git", from: "1.8.2"),
        .package(url: "https://github.com/apple/swift-log.git", from: "1.16.2"),
        .package(url: "https://github.com/LebJe/TOMLKit.git", from: "0.6.0"),
        .package(url: "https://github.com/apple/swift-crypto.git", from: "3.12.3"),
        .package(url: "https://github.com/apple/swift-nio-ssl.git", from: "2.37.6"),
    ],
    targets: [
        .target(
            name: "PurrCore",
            dependencies: [
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
                .product(name: "NIOSSL", package: "swift-nio-ssl"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "TOMLKit", package: "TOMLKit"),
            ]
        ),
        .target(name: "PurrServer", dependencies: ["PurrCore"]),
        .target(
            name: "PurrClient",
            dependencies: ["PurrCore", .product(name: "NIOSSL", package: "swift-nio-ssl")]
        ),
        .systemLibrary(
            name: "CNCurses",
            path: "Sources/CNCurses",
            providers: [.apt(["libncurses-dev"])]
        ),
        .target(
            name: "PurrTUI",
            dependencies: ["PurrClient", "PurrServer", "CNCurses"]
        ),
        .executableTarget(
            name: "purr-tui",
            dependencies: [
                "PurrTUI",
                "PurrClient",
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ]
        ),
        .executableTarget(
            name: "purr-server",
            dependencies: [
                "PurrServer",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ]
        ),
        .executableTarget(
            name: "purr",
            dependencies: [
                "PurrClient",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOSSL", package: "swift-nio-ssl"),
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ]
        ),
        .executableTarget(
            name: "purr-bench",
            dependencies: [
                "PurrTUI",
                "PurrClient",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "Crypto", package: "swift-crypto"),
            ]
        ),
        .target(
            name: "PurrTestSupport",
            dependencies: [
                "PurrCore",
                "PurrServer",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "Crypto", package: "swift-crypto"),
            ],
            path: "Tests/PurrTestSupport"
        ),
        .testTarget(
            name: "PurrCoreTests",
            dependencies: ["PurrCore", "PurrTestSupport"],
            resources: [.copy("Fixtures")]
        ),
        .testTarget(
            name: "PurrServerTests",
            dependencies: ["PurrServer", "PurrTestSupport"],
            resources: [.copy("Fixtures")]
        ),
        .testTarget(name: "PurrTUITests", dependencies: ["PurrTUI", "PurrTestSupport"]),
        .testTarget(
            name: "PurrClientTests",
            dependencies: ["PurrClient", "PurrServer", "PurrTUI", "PurrTestSupport"],
            resources: [.copy("Fixtures")]
        ),
    ],
    swiftLanguageModes: [.v6]
)
