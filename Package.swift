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
        .package(url: "https://github.com/swift-server/async-http-client.git", from: "1.37.0"),
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
        .target(
            name: "PurrServer",
            dependencies: [
                "PurrCore",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
                .product(name: "Logging", package: "swift-log"),
            ]
        ),
        .target(
            name: "PurrClient",
            dependencies: [
                "PurrCore",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
                .product(name: "NIOSSL", package: "swift-nio-ssl"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
            ]
        ),
        .systemLibrary(
            name: "CNCurses",
            path: "Sources/CNCurses",
            providers: [.apt(["libncurses-dev"])]
        ),
        // The screen: a client of the engine and of admin streams, nothing of the server.
        .target(
            name: "PurrTUI",
            dependencies: ["PurrClient", "PurrCore", "CNCurses", .product(name: "Logging", package: "swift-log")]
        ),
        // `purr-tui --demo`: a server, targets and traffic inside the process.
        .target(
            name: "PurrDemo",
            dependencies: [
                "PurrClient",
                "PurrServer",
                "PurrCore",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "Logging", package: "swift-log"),
            ]
        ),
        .executableTarget(
            name: "purr-tui",
            dependencies: [
                "PurrTUI",
                "PurrDemo",
                "PurrClient",
                "PurrCore",
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ]
        ),
        .executableTarget(
            name: "purr-server",
            dependencies: [
                "PurrServer",
                "PurrCore",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ]
        ),
        .executableTarget(
            name: "purr",
            dependencies: [
                "PurrClient",
                "PurrCore",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOSSL", package: "swift-nio-ssl"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ]
        ),
        .executableTarget(
            name: "purr-bench",
            dependencies: [
                "PurrTUI",
                "PurrClient",
                "PurrCore",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ]
        ),
        .target(
            name: "PurrTestSupport",
            dependencies: [
                "PurrCore",
                "PurrServer",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Crypto", package: "swift-crypto"),
            ],
            path: "Tests/PurrTestSupport"
        ),
        .testTarget(
            name: "PurrCoreTests",
            dependencies: ["PurrCore", "PurrTestSupport", .product(name: "NIOCore", package: "swift-nio")],
            resources: [.copy("Fixtures")]
        ),
        .testTarget(
            name: "PurrServerTests",
            dependencies: ["PurrServer", "PurrCore", "PurrTestSupport"],
            resources: [.copy("Fixtures")]
        ),
        .testTarget(
            name: "PurrTUITests",
            dependencies: ["PurrTUI", "PurrClient", "PurrServer", "PurrCore", "PurrTestSupport"]
        ),
        .testTarget(
            name: "PurrClientTests",
            dependencies: [
                "PurrClient", "PurrServer", "PurrTUI", "PurrCore", "PurrTestSupport",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
            ],
            resources: [.copy("Fixtures")]
        ),
    ],
    swiftLanguageModes: [.v6]
)
