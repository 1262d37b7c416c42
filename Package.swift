// swift-tools-version:6.0
import PackageDescription

// Every product a target imports is declared here (MemberImportVisibility checks it).
let nioCore = Target.Dependency.product(name: "NIOCore", package: "swift-nio")
let nioPosix = Target.Dependency.product(name: "NIOPosix", package: "swift-nio")
let nioHTTP1 = Target.Dependency.product(name: "NIOHTTP1", package: "swift-nio")
let nioWebSocket = Target.Dependency.product(name: "NIOWebSocket", package: "swift-nio")
let crypto = Target.Dependency.product(name: "Crypto", package: "swift-crypto")
let nioSSL = Target.Dependency.product(name: "NIOSSL", package: "swift-nio-ssl")
let logging = Target.Dependency.product(name: "Logging", package: "swift-log")
let argumentParser = Target.Dependency.product(name: "ArgumentParser", package: "swift-argument-parser")
let asyncHTTPClient = Target.Dependency.product(name: "AsyncHTTPClient", package: "async-http-client")
let jwtKit = Target.Dependency.product(name: "JWTKit", package: "jwt-kit")
let serviceLifecycle = Target.Dependency.product(name: "ServiceLifecycle", package: "swift-service-lifecycle")
let upcoming: [SwiftSetting] = [.enableUpcomingFeature("ExistentialAny"), .enableUpcomingFeature("MemberImportVisibility")]

// Built and tested on Linux (glibc) only. The macOS minimum below lets a Darwin build start; the
// Linux-only calls stop it with a clear #error instead of failing inside a system header.
let package = Package(
    name: "Purr",
    platforms: [.macOS(.v15)],
    products: [
        .executable(name: "purr-server", targets: ["purr-server"]),
        .executable(name: "purr", targets: ["purr"]),
        .executable(name: "purr-bench", targets: ["purr-bench"]),
        .executable(name: "purr-tui", targets: ["purr-tui"]),
        .executable(name: "purr-embed-example", targets: ["purr-embed-example"]),
        .library(name: "PurrCore", targets: ["PurrCore"]),
        .library(name: "PurrServer", targets: ["PurrServer"]),
        .library(name: "PurrClient", targets: ["PurrClient"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-nio.git", from: "2.101.2"),
        .package(url: "https://github.com/apple/swift-argument-parser.git", from: "1.8.2"),
        .package(url: "https://github.com/apple/swift-log.git", from: "1.16.2"),
        .package(url: "https://github.com/LebJe/TOMLKit.git", from: "0.6.0"),
        .package(url: "https://github.com/apple/swift-crypto.git", "3.12.3"..<"5.0.0"),  // jwt-kit 5.x needs 4.x
        .package(url: "https://github.com/apple/swift-nio-ssl.git", from: "2.37.6"),
        .package(url: "https://github.com/swift-server/async-http-client.git", from: "1.37.0"),
        .package(url: "https://github.com/vapor/jwt-kit.git", from: "5.7.1"),
        .package(url: "https://github.com/swift-server/swift-service-lifecycle.git", from: "2.13.0"),
    ],
    targets: [
        .target(
            name: "PurrCore",
            dependencies: [
                nioCore, nioPosix, nioHTTP1, nioWebSocket, nioSSL, logging, crypto, .product(name: "TOMLKit", package: "TOMLKit"),
                serviceLifecycle, .product(name: "UnixSignals", package: "swift-service-lifecycle"),
            ],
            swiftSettings: upcoming
        ),
        .target(
            name: "PurrServer",
            dependencies: ["PurrCore", nioCore, nioPosix, nioHTTP1, nioWebSocket, nioSSL, logging, crypto, asyncHTTPClient, jwtKit],
            swiftSettings: upcoming
        ),
        .target(
            name: "PurrClient",
            dependencies: [
                "PurrCore", nioCore, nioPosix, nioHTTP1, nioWebSocket, nioSSL, logging,
                .product(name: "NIOTLS", package: "swift-nio"),
                .product(name: "AsyncHTTPClient", package: "async-http-client"), "CGSSAPI",
            ],
            swiftSettings: upcoming
        ),
        // MIT krb5's GSSAPI: Negotiate (Kerberos) and NTLM (gss-ntlmssp) proxy authentication.
        .systemLibrary(
            name: "CGSSAPI",
            path: "Sources/CGSSAPI",
            providers: [.apt(["libkrb5-dev"])]
        ),
        .systemLibrary(
            name: "CNCurses",
            path: "Sources/CNCurses",
            providers: [.apt(["libncurses-dev"])]
        ),
        // The screen: a client of the engine and of admin streams, nothing of the server.
        .target(
            name: "PurrTUI",
            dependencies: ["PurrCore", "PurrClient", "CNCurses", logging],
            swiftSettings: upcoming
        ),
        // `purr-tui --demo`: a server, targets, a slow hop and traffic inside the process.
        .target(
            name: "PurrDemo",
            dependencies: ["PurrCore", "PurrClient", "PurrServer", nioCore, nioPosix, logging],
            swiftSettings: upcoming
        ),
        .executableTarget(
            name: "purr-tui",
            dependencies: ["PurrCore", "PurrTUI", "PurrDemo", "PurrClient", nioPosix, logging, argumentParser, serviceLifecycle],
            swiftSettings: upcoming
        ),
        .executableTarget(
            name: "purr-server",
            dependencies: ["PurrCore", "PurrServer", nioCore, nioPosix, logging, argumentParser, serviceLifecycle],
            swiftSettings: upcoming
        ),
        .executableTarget(
            name: "purr",
            dependencies: ["PurrCore", "PurrClient", nioCore, nioPosix, nioSSL, logging, argumentParser, serviceLifecycle],
            swiftSettings: upcoming
        ),
        .executableTarget(
            name: "purr-bench",
            dependencies: [
                "PurrCore", "PurrTUI", "PurrClient", nioCore, nioPosix, argumentParser, .product(name: "Crypto", package: "swift-crypto"),
            ],
            swiftSettings: upcoming
        ),
        // Embedding Purr in an application (README: Routing): built and run by the tests.
        .executableTarget(
            name: "purr-embed-example",
            dependencies: ["PurrCore", "PurrServer", nioCore, nioPosix, nioHTTP1],
            path: "Examples/EmbeddedPurr",
            swiftSettings: upcoming
        ),
        .target(
            name: "PurrTestSupport",
            dependencies: ["PurrCore", "PurrServer", nioCore, nioPosix, nioHTTP1, nioWebSocket, nioSSL, logging, crypto, jwtKit],
            path: "Tests/PurrTestSupport",
            resources: [.copy("Fixtures")],
            swiftSettings: upcoming
        ),
        .testTarget(
            name: "PurrCoreTests",
            dependencies: [
                "PurrCore", "PurrTestSupport", nioCore, nioPosix, nioHTTP1, nioWebSocket, nioSSL, logging,
                .product(name: "NIOEmbedded", package: "swift-nio"),
            ],
            swiftSettings: upcoming
        ),
        .testTarget(
            name: "PurrServerTests",
            dependencies: [
                "PurrCore", "PurrServer", "PurrTestSupport", nioCore, nioHTTP1, nioWebSocket, crypto, jwtKit,
                .product(name: "NIOEmbedded", package: "swift-nio"),
            ],
            swiftSettings: upcoming
        ),
        .testTarget(
            name: "PurrTUITests",
            dependencies: ["PurrCore", "PurrClient", "PurrServer", "PurrTUI", "PurrTestSupport"],
            swiftSettings: upcoming
        ),
        .testTarget(
            name: "PurrClientTests",
            dependencies: [
                "PurrCore", "PurrClient", "PurrServer", "PurrTUI", "PurrTestSupport", nioCore, nioPosix, nioHTTP1, nioWebSocket,
                .product(name: "NIOEmbedded", package: "swift-nio"), "CGSSAPI",
            ],
            swiftSettings: upcoming
        ),
        // Everything that starts the built programs or a real peer (proxies, a KDC, Chromium, tmux) or opens
        // a socket; the other test targets are unit tests (scripts/unit-tests.sh keeps them so).
        .testTarget(
            name: "PurrIntegrationTests",
            dependencies: [
                "PurrCore", "PurrClient", "PurrServer", "PurrTUI", "PurrTestSupport", nioCore, nioPosix, nioHTTP1, nioWebSocket, nioSSL,
                logging, crypto, jwtKit, .product(name: "NIOEmbedded", package: "swift-nio"), "CGSSAPI",
            ],
            swiftSettings: upcoming
        ),
        // Seeded fuzzing of the parsers that take outside input (README: Development); bounded in CI.
        .testTarget(
            name: "PurrFuzzTests",
            dependencies: [
                "PurrCore", "PurrServer", "PurrClient", "PurrTestSupport", nioCore, nioWebSocket, crypto, jwtKit,
                .product(name: "NIOEmbedded", package: "swift-nio"),
            ],
            swiftSettings: upcoming
        ),
    ],
    swiftLanguageModes: [.v6]
)
