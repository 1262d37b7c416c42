import Foundation

#if canImport(Glibc)
    import Glibc
#endif

/// Workload `wan`: time to the first response across an emulated link (`DelayLink`, one-way delay D)
/// between the client side and the server side, for a client that speaks first (like Redis PING) and a
/// server that speaks first (like an SSH banner): direct TCP across the link, a Purr tunnel in plain
/// HTTP, and one over TLS. The tunnels are warm (the first connections taught the client that the server
/// keeps early data). A direct connection needs 2 round trips (handshake, then request and answer). The
/// pooled tunnels (`--pool 2`) have their connections to the server made (and TLS-handshaked) before the
/// app connects: only the upgrade request and its answer cross the link, one round trip.
enum WanWorkload {
    static let banner = Array("SSH-2.0-purr-bench\r\n".utf8)
    static let ping = Array("PING\r\n".utf8)

    static func run(_ context: BenchContext, echo: EchoServer) throws -> [Row] {
        let delay = context.plan.wanDelay
        let bannerServer = try BannerServer()
        defer { bannerServer.stop() }
        let certificate = try SelfSignedCertificate()
        defer { certificate.remove() }
        var rows: [Row] = []
        for (name, targetPort, exchange) in [
            ("client speaks first", echo.port, Exchange.clientFirst), ("server speaks first", bannerServer.port, .serverFirst),
        ] {
            let directLink = try DelayLink(delay: delay, next: targetPort)
            defer { directLink.stop() }
            let plain = try LinkedStack(context, target: targetPort, delay: delay, tls: nil, label: "wan-plain")
            defer { plain.stop() }
            let secure = try LinkedStack(context, target: targetPort, delay: delay, tls: certificate, label: "wan-tls")
            defer { secure.stop() }
            let pooledPlain = try LinkedStack(context, target: targetPort, delay: delay, tls: nil, pool: 2, label: "wan-plain-pool")
            defer { pooledPlain.stop() }
            let pooledSecure = try LinkedStack(context, target: targetPort, delay: delay, tls: certificate, pool: 2, label: "wan-tls-pool")
            defer { pooledSecure.stop() }
            let stacks = [("plain", plain), ("TLS", secure), ("plain, pool 2", pooledPlain), ("TLS, pool 2", pooledSecure)]
            for (_, stack) in stacks {  // warm: the client learns that the server keeps early data
                for _ in 0..<2 { _ = try exchange.measure(port: stack.port) }
            }
            var direct: [UInt64] = []
            var tunneled = Array(repeating: [UInt64](), count: stacks.count)
            for _ in 0..<context.plan.wanSamples {  // alternating, as in the other latency workloads
                direct.append(try exchange.measure(port: directLink.port))
                for (index, (_, stack)) in stacks.enumerated() { tunneled[index].append(try exchange.measure(port: stack.port)) }
            }
            let d = Percentiles(nanos: direct).p50 / 1000
            let label = "\(name), D = \(Int(delay * 1000)) ms, first response p50"
            for (index, (variant, _)) in stacks.enumerated() {
                rows.append(
                    Row(
                        "wan", "\(label), \(variant)", unit: "ms", direct: d, tunnel: Percentiles(nanos: tunneled[index]).p50 / 1000,
                        target: "≤ 1.0×"))
            }
        }
        return rows
    }

    enum Exchange {
        case clientFirst
        case serverFirst

        /// Connect, get the first response, close: nanoseconds.
        func measure(port: Int) throws -> UInt64 {
            let start = Clock.nanos()
            let socket = try Socket.connect(port: port, timeout: 10)
            defer { socket.close() }
            let expected: [UInt8]
            switch self {
            case .clientFirst:
                try WanWorkload.ping.withUnsafeBytes { try socket.sendAll($0) }
                expected = WanWorkload.ping
            case .serverFirst:
                expected = WanWorkload.banner
            }
            let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: expected.count, alignment: 1)
            defer { buffer.deallocate() }
            try socket.receiveExactly(into: buffer)
            guard Array(buffer) == expected else { throw BenchError("wan: the first response was not the expected bytes") }
            return Clock.nanos() - start
        }
    }
}

/// `purr connect` → link → `purr-server` → target, optionally with TLS between client and server.
final class LinkedStack {
    let server: ChildProcess
    let link: DelayLink
    let client: ChildProcess
    let port: Int

    init(_ context: BenchContext, target: Int, delay: Double, tls: SelfSignedCertificate?, pool: Int = 0, label: String) throws {
        let logDir = FileManager.default.temporaryDirectory.path
        var serverArguments = ["--listen", "127.0.0.1:0", "--route", "/t=127.0.0.1:\(target)", "--log-level", "warning"]
        if let tls { serverArguments += ["--tls-cert", tls.certificate, "--tls-key", tls.key] }
        server = try ChildProcess("\(context.binDir)/purr-server", serverArguments, logPath: "\(logDir)/purr-bench-\(label)-server.log")
        do {
            link = try DelayLink(delay: delay, next: try server.waitForPort(afterPrefix: "listening on "))
            let scheme = tls == nil ? "http" : "https"
            var clientArguments = ["connect", "\(scheme)://127.0.0.1:\(link.port)/t", "--listen", "127.0.0.1:0", "--log-level", "warning"]
            if let tls { clientArguments += ["--ca-file", tls.certificate] }
            if pool > 0 { clientArguments += ["--pool", "\(pool)"] }
            client = try ChildProcess("\(context.binDir)/purr", clientArguments, logPath: "\(logDir)/purr-bench-\(label)-client.log")
            port = try client.waitForPort(afterPrefix: "listening on ")
        } catch {
            server.stop()
            throw error
        }
    }

    func stop() {
        client.stop()
        link.stop()
        server.stop()
    }
}

/// Says a banner as soon as a connection is accepted, then echoes (an SSH server's first move).
final class BannerServer: Sendable {
    let listener: Listener
    var port: Int { listener.port }

    init() throws(BenchError) {
        listener = try Listener()
        let listener = self.listener
        Threads.detach("banner-accept") {
            while let socket = listener.accept() {
                Threads.detach("banner") {
                    defer { socket.close() }
                    guard (try? WanWorkload.banner.withUnsafeBytes({ try socket.sendAll($0) })) != nil else { return }
                    let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: 4096, alignment: 1)
                    defer { buffer.deallocate() }
                    while let count = try? socket.receive(into: buffer), count > 0 {
                        guard (try? socket.sendAll(UnsafeRawBufferPointer(rebasing: buffer[..<count]))) != nil else { return }
                    }
                }
            }
        }
    }

    func stop() {
        listener.close()
    }
}

/// A throwaway certificate for 127.0.0.1 (openssl), so the TLS path is measured as a user runs it.
struct SelfSignedCertificate {
    let directory: String
    var certificate: String { directory + "/cert.pem" }
    var key: String { directory + "/key.pem" }

    init() throws {
        directory = FileManager.default.temporaryDirectory.appendingPathComponent("purr-bench-tls-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        let openssl = Process()
        openssl.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        openssl.arguments = [
            "openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes", "-days", "1",
            "-subj", "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1", "-keyout", directory + "/key.pem", "-out",
            directory + "/cert.pem",
        ]
        openssl.standardError = FileHandle.nullDevice
        openssl.standardOutput = FileHandle.nullDevice
        try openssl.run()
        openssl.waitUntilExit()
        guard openssl.terminationStatus == 0 else { throw BenchError("wan: openssl could not make a test certificate") }
    }

    func remove() {
        try? FileManager.default.removeItem(atPath: directory)
    }
}
