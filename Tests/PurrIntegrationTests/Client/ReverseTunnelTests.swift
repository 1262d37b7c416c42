import Foundation
import NIOCore
import NIOPosix
import PurrTestSupport
import XCTest

/// Reverse tunnels with the built programs and real peers: `purr expose` registers at a `purr-server`'s
/// `[[reverse]]` entry and real clients (OpenSSH, curl, a Purr client) reach the exposed service through
/// the server's published side. Every wait is a bounded poll; every process is stopped.
final class ReverseTunnelTests: XCTestCase {
    static let token = "rev-token-1"

    /// A server whose `[[reverse]] web` publishes on `published` and at the route `/web`.
    func startServer(published: Int, extra: String = "", serverExtra: String = "") throws -> (RunningProcess, Int) {
        try RunningProcess.purrServer(
            config: """
                \(serverExtra)
                [[reverse]]
                name = "web"
                path = "/rev/web"
                token = "\(Self.token)"
                listen = "127.0.0.1:\(published)"
                publish = "/web"
                \(extra)
                """)
    }

    func expose(serverPort: Int, target: Int, arguments: [String] = []) throws -> RunningProcess {
        let process = try RunningProcess(
            "purr", ["expose", "http://127.0.0.1:\(serverPort)/rev/web", "--to", "127.0.0.1:\(target)"] + arguments,
            environment: ["PURR_TOKEN": Self.token])
        XCTAssertTrue(process.waitForOutput("exposed as web"), process.stderr)
        return process
    }

    func curl(_ url: String, proxy: String? = nil) throws -> (status: Int32, body: String) {
        let arguments = ["-sS", "-m", "10", "--noproxy", "*", url]
        let result = try RunningProcess.run(absolute: "/usr/bin/curl", arguments)
        return (result.status, result.stdout)
    }

    func origin() throws -> (HTTPOrigin, Int, String) {
        let body = "published through purr \(UUID().uuidString)\n"
        let origin = try HTTPOrigin("rev-origin", index: body)
        return (origin, origin.port, body)
    }

    /// OpenSSH to a real sshd exposed through the server: 32 MiB through `ssh ... cat`, byte-exact.
    func testOpenSSHCatOf32MiBThroughThePublishedPort() throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("rev-ssh-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        let (sshd, sshPort, key) = try DynamicPeers.sshd(in: directory)
        defer { sshd.stop() }
        let published = RunningProcess.freePort()
        let (server, serverPort) = try startServer(published: published)
        defer { server.stop() }
        let exposer = try expose(serverPort: serverPort, target: sshPort)
        defer { exposer.stop() }
        let payload = TestKit.randomPayload(count: 32 << 20, seed: 28)
        let input = directory.appendingPathComponent("in")
        let output = directory.appendingPathComponent("out")
        try Data(payload).write(to: input)
        let ssh = [
            "/usr/bin/ssh", "-F", "/dev/null", "-T", "-o", "BatchMode=yes", "-o", "StrictHostKeyChecking=no", "-o",
            "UserKnownHostsFile=/dev/null", "-o", "LogLevel=ERROR", "-o", "IdentitiesOnly=yes", "-i", key, "-p", String(published),
            "127.0.0.1", "cat",
        ]
        let line = ssh.map { "'\($0)'" }.joined(separator: " ") + " < '\(input.path)' > '\(output.path)'"
        let result = try RunningProcess.run(absolute: "/bin/sh", ["-c", line], timeout: 120)
        XCTAssertEqual(result.status, 0, result.stderr + server.stderr + exposer.stderr)
        let received = try Data(contentsOf: output)
        XCTAssertEqual(received.count, payload.count)
        XCTAssertEqual(TestKit.sha256(Array(received)), TestKit.sha256(payload))
    }

    /// curl to a published HTTP server, with tinyproxy between the exposing client and the server; then
    /// a Purr client through the `publish` route.
    func testCurlThroughTinyproxyAndThePublishRoute() throws {
        let (origin, originPort, body) = try origin()
        defer { origin.stop() }
        let published = RunningProcess.freePort()
        let (server, serverPort) = try startServer(published: published)
        defer { server.stop() }
        let proxy = try TinyproxyProcess(connectPorts: [serverPort])
        defer { proxy.stop() }
        let exposer = try expose(serverPort: serverPort, target: originPort, arguments: ["--proxy", "http://127.0.0.1:\(proxy.port)"])
        defer { exposer.stop() }
        for _ in 0..<5 {
            let answer = try curl("http://127.0.0.1:\(published)/index.html")
            XCTAssertEqual(answer.status, 0, server.stderr + exposer.stderr)
            XCTAssertEqual(answer.body, body)
        }
        let connect = try RunningProcess("purr", ["connect", "http://127.0.0.1:\(serverPort)/web", "--listen", "127.0.0.1:0"])
        defer { connect.stop() }
        XCTAssertTrue(connect.waitForOutput("listening on"), connect.stderr)
        let address = connect.stdout.components(separatedBy: "listening on ").last?.trimmingCharacters(in: .whitespacesAndNewlines) ?? ""
        let answer = try curl("http://\(address)/index.html")
        XCTAssertEqual(answer.body, body, connect.stderr + server.stderr)
        // The held requests went through the proxy: without it they are lost, and say so.
        proxy.stop()
        XCTAssertTrue(TestKit.poll(timeout: 20) { exposer.stderr.contains("proxy 127.0.0.1:\(proxy.port)") }, exposer.stderr)
    }

    /// The exposing client SIGKILLed: its held requests close, the name is released, and published
    /// connections are refused (closed, with a log line), not left hanging; the publish route says 503.
    func testClientKilledPublishedConnectionsAreRefusedNotHung() throws {
        let (origin, originPort, body) = try origin()
        defer { origin.stop() }
        let published = RunningProcess.freePort()
        let (server, serverPort) = try startServer(published: published, extra: "wait_timeout = 2")
        defer { server.stop() }
        let exposer = try expose(serverPort: serverPort, target: originPort)
        XCTAssertEqual(try curl("http://127.0.0.1:\(published)/index.html").body, body)
        XCTAssertNotNil(exposer.signal(SIGKILL))
        // Refused: the connection ends (EOF) instead of waiting; within the wait timeout at the latest.
        let refused = TestKit.poll(timeout: 15) {
            guard let socket = try? BlockingSocket(port: published) else { return false }
            socket.setReadTimeout(5)
            return (try? socket.read()) == []
        }
        XCTAssertTrue(refused)
        XCTAssertTrue(TestKit.poll(timeout: 10) { server.stderr.contains("reverse connection refused") }, server.stderr)
        let route = try BlockingSocket(port: serverPort)
        route.setReadTimeout(10)
        try route.write(
            "GET /web HTTP/1.1\r\nHost: x\r\nConnection: Upgrade\r\nUpgrade: purr\r\nPurr-Request: MEOW\r\nPurr-Version: 0.1.2\r\n\r\n")
        let answer = String(decoding: try route.read(), as: UTF8.self)
        XCTAssertTrue(answer.hasPrefix("HTTP/1.1 503"), answer)
        XCTAssertTrue(answer.contains("no client has exposed web"), answer)
    }

    /// The server restarted on the same port: the exposing client registers again by itself.
    func testServerRestartedClientRegistersAgain() throws {
        let (origin, originPort, body) = try origin()
        defer { origin.stop() }
        let published = RunningProcess.freePort()
        let (server, serverPort) = try startServer(published: published)
        let exposer = try expose(serverPort: serverPort, target: originPort)
        defer { exposer.stop() }
        XCTAssertEqual(try curl("http://127.0.0.1:\(published)/index.html").body, body)
        server.stop()
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("rev-restart-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        let file = directory.appendingPathComponent("server.toml")
        try """
        [[reverse]]
        name = "web"
        path = "/rev/web"
        token = "\(Self.token)"
        listen = "127.0.0.1:\(published)"
        """.write(to: file, atomically: true, encoding: .utf8)
        let again = try RunningProcess("purr-server", ["--listen", "127.0.0.1:\(serverPort)", "--config", file.path])
        defer { again.stop() }
        XCTAssertTrue(again.waitForOutput("listening"), again.stderr)
        XCTAssertTrue(TestKit.poll(timeout: 30) { again.stderr.contains("reverse client registered") }, again.stderr + exposer.stderr)
        let served = try TestKit.poll(timeout: 20) { try curl("http://127.0.0.1:\(published)/index.html").body == body }
        XCTAssertTrue(served, again.stderr + exposer.stderr)
    }

    /// 200 published connections at once with a pool of 4: each one is served (held requests are
    /// reopened as fast as they are used), each echo byte-exact.
    func testBurstOf200PublishedConnectionsWithPoolOf4() async throws {
        let group = MultiThreadedEventLoopGroup(numberOfThreads: 1)
        let target = try await TestTarget.start(.echo(banner: nil), group: group)
        let published = RunningProcess.freePort()
        let (server, serverPort) = try startServer(published: published, extra: "wait_timeout = 30")
        let exposer = try expose(serverPort: serverPort, target: target.port, arguments: ["--pool", "4"])
        let failures = ReverseFailures()
        DispatchQueue.concurrentPerform(iterations: 200) { index in
            do {
                let payload = TestKit.randomPayload(count: 16 << 10, seed: UInt64(index + 1))
                let socket = try BlockingSocket(port: published, timeout: 60)
                socket.setReadTimeout(60)
                let outcome = try Duplex.exchange(socket, payload: payload)
                if outcome.receivedSHA256 != TestKit.sha256(payload) {
                    failures.add("\(index): \(outcome.receivedBytes) bytes, not the payload")
                }
            } catch {
                failures.add("\(index): \(error)")
            }
        }
        XCTAssertEqual(failures.all, [], String(server.stderr.suffix(2000)) + String(exposer.stderr.suffix(2000)))
        exposer.stop()
        server.stop()
        await target.stop()
        try await group.shutdownGracefully()
    }

    /// Attacks: a wrong token and an unknown name are refused; one peer's held requests stop at the
    /// per-peer limit; published connections with no free held request wait at most wait_timeout.
    func testRefusalsPeerLimitAndBoundedWait() throws {
        let published = RunningProcess.freePort()
        let (server, serverPort) = try startServer(
            published: published, extra: "wait_timeout = 1\npool = 1000", serverExtra: "max_connections_per_peer = 20")
        defer { server.stop() }
        func register(name: String = "web", token: String = ReverseTunnelTests.token) throws -> BlockingSocket {
            let socket = try BlockingSocket(port: serverPort)
            try socket.write(
                "GET /rev/web HTTP/1.1\r\nHost: x\r\nConnection: Upgrade\r\nUpgrade: purr\r\nPurr-Request: MEOW\r\nPurr-Version: 0.1.2\r\n"
                    + "Authorization: Bearer \(token)\r\nPurr-Reverse: \(name)\r\nPurr-Reverse-Client: attacker\r\n\r\n")
            return socket
        }
        func answer(_ socket: BlockingSocket) -> String {
            socket.setReadTimeout(5)
            return String(decoding: (try? socket.read()) ?? [], as: UTF8.self)
        }
        let wrongToken = try register(token: "rev-token-2")
        XCTAssertTrue(answer(wrongToken).hasPrefix("HTTP/1.1 401"))
        wrongToken.close()
        let unknownName = try register(name: "nope")
        XCTAssertTrue(answer(unknownName).hasPrefix("HTTP/1.1 404"))
        unknownName.close()
        // Unregistered: a published connection is closed at once.
        let early = try BlockingSocket(port: published)
        early.setReadTimeout(5)
        XCTAssertEqual(try early.read(), [])
        // 100 held requests from one address: 20 are held, the rest refused 503 (peer limit).
        var held: [BlockingSocket] = []
        var refusedCount = 0
        for _ in 0..<100 {
            let socket = try register()
            socket.setReadTimeout(0.3)
            if let bytes = try? socket.read(), String(decoding: bytes, as: UTF8.self).hasPrefix("HTTP/1.1 503") {
                refusedCount += 1
            } else {
                held.append(socket)
            }
        }
        // The two refused above may still be counted while the server closes them.
        XCTAssertTrue((18...20).contains(held.count), "\(held.count) held; " + server.stderr.suffix(1500))
        XCTAssertEqual(refusedCount, 100 - held.count)
        // A held request that is used and never read: the 101 waits in its socket, nothing else breaks.
        let user = try BlockingSocket(port: published)
        try user.write("hello")
        let first = held.removeFirst()
        first.setReadTimeout(5)
        let upgraded = String(decoding: try first.read(), as: UTF8.self)
        XCTAssertTrue(upgraded.hasPrefix("HTTP/1.1 101"), upgraded)
        // Every held request closed: the name is released and 50 published connections are refused, none hangs.
        for socket in held { socket.close() }
        first.close()
        XCTAssertTrue(TestKit.poll(timeout: 10) { server.stderr.contains("reverse client released") }, server.stderr)
        let flood = (0..<50).compactMap { _ in try? BlockingSocket(port: published) }
        XCTAssertEqual(flood.count, 50)
        for socket in flood {
            socket.setReadTimeout(5)
            XCTAssertEqual(try socket.read(), [])
        }
    }
}

extension ReverseTunnelTests {
    /// A registered client with no free held request: published connections wait at most wait_timeout,
    /// then are refused (closed, logged), none hangs.
    func testFloodWithNoFreeHeldRequestWaitsBoundedThenRefused() throws {
        let published = RunningProcess.freePort()
        let (server, serverPort) = try startServer(published: published, extra: "wait_timeout = 1")
        defer { server.stop() }
        let held = try BlockingSocket(port: serverPort)
        try held.write(
            "GET /rev/web HTTP/1.1\r\nHost: x\r\nConnection: Upgrade\r\nUpgrade: purr\r\nPurr-Request: MEOW\r\nPurr-Version: 0.1.2\r\n"
                + "Authorization: Bearer \(Self.token)\r\nPurr-Reverse: web\r\n\r\n")
        XCTAssertTrue(TestKit.poll(timeout: 10) { server.stderr.contains("reverse client registered") }, server.stderr)
        let user = try BlockingSocket(port: published)
        try user.write("ping")
        held.setReadTimeout(5)
        let upgraded = String(decoding: try held.read(), as: UTF8.self)
        XCTAssertTrue(upgraded.hasPrefix("HTTP/1.1 101"), upgraded)
        // The client used its only held request and has not opened another: the next ones wait, then go.
        let flood = try (0..<30).map { _ in try BlockingSocket(port: published) }
        for socket in flood {
            socket.setReadTimeout(10)
            XCTAssertEqual(try socket.read(), [])
        }
        // Refused for waiting past wait_timeout or, as the client opened nothing in that time, for its release.
        XCTAssertTrue(TestKit.poll(timeout: 5) { server.stderr.contains("reverse connection refused") }, server.stderr)
        held.close()
        user.close()
    }
}

extension ReverseTunnelTests {
    /// Held requests refreshed every second: each replacement opens before the one it replaces ends, so
    /// the name is never released, the server's held requests do not pile up, and every connection is served.
    func testRefreshedHeldRequestsKeepTheNameRegistered() throws {
        let (origin, originPort, body) = try origin()
        defer { origin.stop() }
        let published = RunningProcess.freePort()
        let (server, serverPort) = try startServer(published: published)
        defer { server.stop() }
        let exposer = try expose(serverPort: serverPort, target: originPort, arguments: ["--refresh", "1", "--pool", "2"])
        defer { exposer.stop() }
        XCTAssertEqual(try curl("http://127.0.0.1:\(published)/index.html").body, body)
        // Refreshed held requests end on the server as clients gone; wait for six of them (three rounds).
        let refreshed = TestKit.poll(timeout: 20) { server.stderr.components(separatedBy: "client gone").count > 6 }
        XCTAssertTrue(refreshed, server.stderr)
        XCTAssertEqual(try curl("http://127.0.0.1:\(published)/index.html").body, body, server.stderr)
        XCTAssertFalse(server.stderr.contains("reverse client released"), server.stderr)
        XCTAssertFalse(server.stderr.contains("reverse connection refused"), server.stderr)
        XCTAssertEqual(server.stderr.components(separatedBy: "reverse client registered").count - 1, 1, server.stderr)
    }
}

extension ReverseTunnelTests {
    /// A client that registers and never reads: a published connection that keeps sending stops once
    /// the buffers on the way are full; the server does not hold the rest.
    func testAClientThatNeverReadsHoldsTheSenderNotTheServer() throws {
        let published = RunningProcess.freePort()
        let (server, serverPort) = try startServer(published: published)
        defer { server.stop() }
        let held = try BlockingSocket(port: serverPort)
        try held.write(
            "GET /rev/web HTTP/1.1\r\nHost: x\r\nConnection: Upgrade\r\nUpgrade: purr\r\nPurr-Request: MEOW\r\nPurr-Version: 0.1.2\r\n"
                + "Authorization: Bearer \(Self.token)\r\nPurr-Reverse: web\r\n\r\n")
        XCTAssertTrue(TestKit.poll(timeout: 10) { server.stderr.contains("reverse client registered") }, server.stderr)
        let before = try XCTUnwrap(TestKit.residentBytes(pid: server.pid))
        let sender = try BlockingSocket(port: published)
        sender.setWriteTimeout(2)
        let chunk = [UInt8](repeating: 0x61, count: 1 << 20)
        var sent = 0
        while sent < 256 << 20 {
            do { try sender.write(chunk) } catch { break }  // blocked for 2 s: the way is full
            sent += chunk.count
        }
        XCTAssertLessThan(sent, 64 << 20, "a client that never reads took \(sent >> 20) MiB")
        let after = try XCTUnwrap(TestKit.residentBytes(pid: server.pid))
        XCTAssertLessThan(after - before, 32 << 20, "server grew by \((after - before) >> 20) MiB")
        sender.close()
        held.close()
    }
}

extension ReverseTunnelTests {
    /// A `ws://` URL: the held requests are real WebSocket upgrades, framed after the 101 on both ends.
    func testAWebSocketURLExposesThroughFrames() throws {
        let (origin, originPort, body) = try origin()
        defer { origin.stop() }
        let published = RunningProcess.freePort()
        let (server, serverPort) = try startServer(published: published)
        defer { server.stop() }
        let process = try RunningProcess(
            "purr", ["expose", "ws://127.0.0.1:\(serverPort)/rev/web", "--to", "127.0.0.1:\(originPort)"],
            environment: ["PURR_TOKEN": Self.token])
        defer { process.stop() }
        XCTAssertTrue(process.waitForOutput("exposed as web"), process.stderr)
        for _ in 0..<3 { XCTAssertEqual(try curl("http://127.0.0.1:\(published)/index.html").body, body, server.stderr) }
        XCTAssertTrue(TestKit.poll(timeout: 5) { server.stderr.contains("transport=websocket") }, server.stderr)
    }
}

extension ReverseTunnelTests {
    /// `share = true`: two clients register the same name and new connections are spread over both.
    func testSharedNameSpreadsConnectionsOverItsClients() throws {
        let (first, firstPort, firstBody) = try origin()
        defer { first.stop() }
        let (second, secondPort, secondBody) = try origin()
        defer { second.stop() }
        let published = RunningProcess.freePort()
        let (server, serverPort) = try startServer(published: published, extra: "share = true\nmax_clients = 2")
        defer { server.stop() }
        let one = try expose(serverPort: serverPort, target: firstPort, arguments: ["--pool", "2"])
        defer { one.stop() }
        let two = try expose(serverPort: serverPort, target: secondPort, arguments: ["--pool", "2"])
        defer { two.stop() }
        var seen: Set<String> = []
        for _ in 0..<20 { seen.insert(try curl("http://127.0.0.1:\(published)/index.html").body) }
        XCTAssertEqual(seen, [firstBody, secondBody], server.stderr)
        // A third client is over max_clients.
        let third = try RunningProcess(
            "purr", ["expose", "http://127.0.0.1:\(serverPort)/rev/web", "--to", "127.0.0.1:\(firstPort)"],
            environment: ["PURR_TOKEN": Self.token])
        defer { third.stop() }
        XCTAssertTrue(TestKit.poll(timeout: 10) { third.stderr.contains("limit of 2 clients") }, third.stderr)
    }
}

final class ReverseFailures: @unchecked Sendable {
    private let lock = NSLock()
    private var list: [String] = []

    func add(_ failure: String) {
        lock.lock()
        list.append(failure)
        lock.unlock()
    }

    var all: [String] {
        lock.lock()
        defer { lock.unlock() }
        return list
    }
}

extension ReverseTunnelTests {
    /// The publish route answers only once a held request is free for it: while the client's only held
    /// request is busy, a route request waits and gets its 101 when the client opens another (then relays
    /// to it); with none opened within wait_timeout it is answered 503 (never a 101 that then resets).
    func testThePublishRouteWaitsForAFreeHeldRequestThen503() throws {
        let published = RunningProcess.freePort()
        let (server, serverPort) = try startServer(published: published, extra: "wait_timeout = 2")
        defer { server.stop() }
        func register() throws -> BlockingSocket {
            let socket = try BlockingSocket(port: serverPort)
            try socket.write(
                "GET /rev/web HTTP/1.1\r\nHost: x\r\nConnection: Upgrade\r\nUpgrade: purr\r\nPurr-Request: MEOW\r\nPurr-Version: 0.1.2\r\n"
                    + "Authorization: Bearer \(Self.token)\r\nPurr-Reverse: web\r\nPurr-Reverse-Client: one\r\n\r\n")
            socket.setReadTimeout(10)
            return socket
        }
        func route() throws -> BlockingSocket {
            let socket = try BlockingSocket(port: serverPort)
            try socket.write(
                "GET /web HTTP/1.1\r\nHost: x\r\nConnection: Upgrade\r\nUpgrade: purr\r\nPurr-Request: MEOW\r\nPurr-Version: 0.1.2\r\n\r\n")
            socket.setReadTimeout(10)
            return socket
        }
        let first = try register()
        defer { first.close() }
        XCTAssertTrue(TestKit.poll(timeout: 10) { server.stderr.contains("reverse client registered") }, server.stderr)
        let user = try BlockingSocket(port: published)
        defer { user.close() }
        try user.write("ping")
        XCTAssertTrue(String(decoding: try first.read(), as: UTF8.self).hasPrefix("HTTP/1.1 101"))
        // The only held request is busy: the route waits, and a new held request of the client serves it.
        let waiting = try route()
        defer { waiting.close() }
        let second = try register()
        defer { second.close() }
        let answer = try waiting.readHead()
        XCTAssertTrue(answer.head.hasPrefix("HTTP/1.1 101"), answer.head + server.stderr)
        XCTAssertTrue(String(decoding: try second.read(), as: UTF8.self).hasPrefix("HTTP/1.1 101"))
        try waiting.write("hello")
        XCTAssertEqual(String(decoding: try second.read(), as: UTF8.self), "hello")
        // Busy again, and nothing opens: 503 with the reason, within wait_timeout (or the client's release).
        let refused = try route()
        defer { refused.close() }
        let words = String(decoding: try refused.read(), as: UTF8.self)
        XCTAssertTrue(words.hasPrefix("HTTP/1.1 503"), words)
        XCTAssertTrue(words.contains("no held request of web was free") || words.contains("no client has exposed web"), words)
    }
}
