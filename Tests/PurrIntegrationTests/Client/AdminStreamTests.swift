import Foundation
import NIOCore
import NIOPosix
import PurrClient
import PurrCore
import PurrServer
import PurrTestSupport
import XCTest

/// The admin stream client against a real server's admin endpoint.
final class AdminStreamTests: XCTestCase {
    let group = InProcessServer.group

    func startAdmin(_ server: PurrServer, port: Int = 0, token: String? = nil) async throws -> AdminServer {
        let admin = AdminServer(
            config: AdminConfig(listen: HostPort(host: "127.0.0.1", port: port), token: token),
            registry: server.registry, group: group, logger: InProcessServer.quietLogger)
        try await admin.start()
        return admin
    }

    /// Collects updates in the background; `wait` polls them.
    final class Recorder: @unchecked Sendable {
        private let lock = NSLock()
        private var updates: [AdminStream.Update] = []
        private var task: Task<Void, Never>?

        init(_ stream: AdminStream) {
            let updates = stream.updates()
            task = Task { [weak self] in
                for await update in updates { self?.append(update) }
            }
        }

        func append(_ update: AdminStream.Update) { lock.withLock { updates.append(update) } }
        var all: [AdminStream.Update] { lock.withLock { updates } }

        var states: [AdminStream.State] {
            all.compactMap { if case .state(let state) = $0 { return state } else { return nil } }
        }

        var snapshots: [StatsSnapshot] {
            all.compactMap { if case .stats(let snapshot) = $0 { return snapshot } else { return nil } }
        }

        var connectionEvents: [ConnectionEvent] {
            all.compactMap { if case .connection(let event) = $0 { return event } else { return nil } }
        }

        func cancel() { task?.cancel() }
    }

    func testFollowsSnapshotsAndConnectionEvents() async throws {
        let target = try await TestTarget.start(.echo(banner: nil), group: group)
        let server = try await InProcessServer.start(routes: [
            try Route(path: "/echo", target: HostPort(host: "127.0.0.1", port: target.port))
        ])
        let admin = try await startAdmin(server, token: "tok")
        let stream = try AdminStream(
            name: "local", adminURL: "http://127.0.0.1:\(admin.port)", token: "tok", intervalMs: 100, group: group)
        let recorder = Recorder(stream)
        stream.start()
        XCTAssertTrue(TestKit.poll { stream.state == .live })
        let socket = try BlockingSocket(port: server.port)
        _ = try socket.upgrade(path: "/echo", port: server.port)
        try socket.write("twelve bytes")
        _ = try socket.read(exactly: 12)
        socket.close()
        XCTAssertTrue(TestKit.poll { recorder.connectionEvents.count == 2 })
        XCTAssertEqual(recorder.connectionEvents.map(\.event), [.opened, .closed])
        XCTAssertEqual(recorder.connectionEvents.last?.connection.bytesIn, 12)
        XCTAssertTrue(TestKit.poll { stream.latest?.routes.first?.bytesIn == 12 && stream.latest?.routes.first?.total == 1 })
        XCTAssertEqual(Array(recorder.states.prefix(2)), [.connecting, .live])
        XCTAssertGreaterThan(recorder.snapshots.count, 0)
        await stream.stop()
        recorder.cancel()
        XCTAssertTrue(TestKit.poll { server.registry.observerCount == 0 })
        await admin.shutdown()
        await server.shutdown(drainTimeout: 0)
    }

    func testUnauthorizedAndUnreachable() async throws {
        let server = try await InProcessServer.start(routes: [])
        let admin = try await startAdmin(server, token: "right")
        let wrong = try AdminStream(name: "w", adminURL: "http://127.0.0.1:\(admin.port)", token: "wrong", group: group)
        wrong.start()
        XCTAssertTrue(TestKit.poll { wrong.state == .unauthorized })
        await wrong.stop()
        // An echo server is not an admin endpoint: said so, not "live".
        let echo = try await TestTarget.start(.echo(banner: nil), group: group)
        let notAdmin = try AdminStream(name: "n", adminURL: "http://127.0.0.1:\(echo.port)", token: nil, group: group)
        notAdmin.start()
        XCTAssertTrue(TestKit.poll { notAdmin.state.description.contains("not an admin endpoint") }, notAdmin.state.description)
        await notAdmin.stop()
        let deadPort = RunningProcess.freePort()
        let down = try AdminStream(name: "d", adminURL: "http://127.0.0.1:\(deadPort)", token: nil, group: group)
        down.start()
        XCTAssertTrue(TestKit.poll { down.state == .unreachable("connection refused by 127.0.0.1:\(deadPort)") })
        await down.stop()
        await admin.shutdown()
        await server.shutdown(drainTimeout: 0)
    }

    func testReconnectsAfterTheServerRestarts() async throws {
        let server = try await InProcessServer.start(routes: [])
        let admin = try await startAdmin(server)
        let port = admin.port
        let stream = try AdminStream(
            name: "r", adminURL: "http://127.0.0.1:\(port)", token: nil, intervalMs: 100, group: group,
            backoff: Backoff(initial: 0.05, cap: 0.5))
        let recorder = Recorder(stream)
        stream.start()
        XCTAssertTrue(TestKit.poll { stream.state == .live })
        await admin.shutdown()
        await server.shutdown(drainTimeout: 0)
        XCTAssertTrue(TestKit.poll { if case .unreachable = stream.state { return true } else { return false } })
        let restarted = try await InProcessServer.start(routes: [])
        let restartedAdmin = try await startAdmin(restarted, port: port)
        XCTAssertTrue(TestKit.poll { stream.state == .live })
        XCTAssertTrue(TestKit.poll { stream.latest?.server.listen == "127.0.0.1:\(restarted.port)" }, "snapshots come from the new server")
        XCTAssertGreaterThanOrEqual(recorder.states.filter { $0 == .live }.count, 2)
        await stream.stop()
        recorder.cancel()
        await restartedAdmin.shutdown()
        await restarted.shutdown(drainTimeout: 0)
    }

    /// `purr-server --admin-tls` with a certificate from a private CA: followed over https with `ca_file`,
    /// refused in words without it.
    func testFollowsAnAdminEndpointOverHTTPSWithAPrivateCA() async throws {
        let certificates = try TestCertificates.make()
        let process = try RunningProcess(
            "purr-server",
            [
                "--listen", "127.0.0.1:\(RunningProcess.freePort())", "--tls-cert", certificates.certificateFile, "--tls-key",
                certificates.keyFile, "--admin-port", "0", "--admin-tls",
            ])
        defer { process.stop() }
        XCTAssertTrue(process.waitForOutput("admin on"), process.stderr)
        let line = try XCTUnwrap(process.stdout.split(separator: "\n").first { $0.hasPrefix("admin on") })
        let adminPort = try XCTUnwrap(Int(line.split(separator: ":").last!))

        let trusted = try AdminStream(
            name: "tls", adminURL: "https://localhost:\(adminPort)", token: nil, caFile: certificates.caFile, intervalMs: 100,
            group: group)
        trusted.start()
        XCTAssertTrue(TestKit.poll { trusted.state == .live }, trusted.state.description)
        XCTAssertTrue(TestKit.poll { trusted.latest != nil })
        await trusted.stop()

        let untrusted = try AdminStream(name: "untrusted", adminURL: "https://localhost:\(adminPort)", token: nil, group: group)
        untrusted.start()
        XCTAssertTrue(
            TestKit.poll { untrusted.state.description.contains("certificate for localhost not trusted") }, untrusted.state.description)
        await untrusted.stop()

        let blind = try AdminStream(name: "insecure", adminURL: "https://127.0.0.1:\(adminPort)", token: nil, insecure: true, group: group)
        blind.start()
        XCTAssertTrue(TestKit.poll { blind.state == .live }, blind.state.description)
        await blind.stop()
    }

    /// A server that answers the head and then says nothing is noticed, and reconnected to.
    func testSilenceAfterTheHeadIsDetected() async throws {
        let silent = try await ServerBootstrap(group: group)
            .childChannelInitializer { channel in
                channel.eventLoop.makeCompletedFuture { try channel.pipeline.syncOperations.addHandler(SilentStreamHandler()) }
            }
            .bind(host: "127.0.0.1", port: 0).get()
        let stream = try AdminStream(
            name: "silent", adminURL: "http://127.0.0.1:\(silent.localAddress!.port!)", token: nil, intervalMs: 100, group: group)
        let recorder = Recorder(stream)
        stream.start()
        XCTAssertTrue(TestKit.poll { stream.state == .live })
        XCTAssertTrue(TestKit.poll(timeout: 20) { recorder.states.contains(.unreachable("no data from the server for too long")) })
        await stream.stop()
        recorder.cancel()
        try await silent.close()
    }

    func testBackoffDoublesWithJitterUpToTheCap() {
        var backoff = Backoff(initial: 1, cap: 8)
        let delays = (0..<6).map { _ in backoff.next() }
        for (delay, base) in zip(delays, [1.0, 2, 4, 8, 8, 8]) {
            XCTAssertGreaterThanOrEqual(delay, base * 0.8 - 1e-9)
            XCTAssertLessThanOrEqual(delay, min(8, base * 1.2) + 1e-9)
        }
        backoff.reset()
        XCTAssertLessThanOrEqual(backoff.next(), 1.2)
    }
}

/// Answers any request with the head of an event stream, then never writes again.
final class SilentStreamHandler: ChannelInboundHandler {
    typealias InboundIn = ByteBuffer
    typealias OutboundOut = ByteBuffer
    private var answered = false

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        guard !answered else { return }
        answered = true
        let head = "HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nTransfer-Encoding: chunked\r\n\r\n"
        context.writeAndFlush(NIOAny(ByteBuffer(string: head)), promise: nil)
    }
}
