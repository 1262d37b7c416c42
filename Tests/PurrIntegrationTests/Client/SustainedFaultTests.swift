import Foundation
import PurrClient
import PurrCore
import PurrServer
import PurrTestSupport
import Synchronization
import XCTest

/// Faults under a sustained load, through the built `purr connect` (and `purr-server` where the
/// server is the one at fault): every connection ends cleanly, the processes recover, none spins.
final class SustainedFaultTests: XCTestCase {
    let group = InProcessServer.group

    /// `purr connect URL` started and listening; returns the process and its port.
    func startClient(_ url: String, extra: [String] = []) throws -> (RunningProcess, Int) {
        let process = try RunningProcess("purr", ["connect", url] + extra)
        XCTAssertTrue(process.waitForOutput("listening on"), process.stderr)
        let line = try XCTUnwrap(process.stdout.split(separator: "\n").first { $0.hasPrefix("listening on") })
        return (process, try XCTUnwrap(Int(line.split(separator: ":").last!)))
    }

    /// One connection: send, half-close, read to the end. Echoed, refused (EOF or reset) or hung.
    static func probe(_ port: Int) -> LoadLoop.Outcome {
        guard let socket = try? BlockingSocket(port: port, timeout: 5) else { return .refused }
        defer { socket.close() }
        do {
            try socket.write("ping")
            socket.shutdownWrite()
            let answer = try socket.readToEnd(limit: 64)
            return answer == Array("ping".utf8) ? .echoed : (answer.isEmpty ? .refused : .wrong)
        } catch {
            return "\(error)".contains("timed out") ? .hung : .refused
        }
    }

    func testTargetRefusingThenAcceptingAgain() async throws {
        let targetPort = RunningProcess.freePort()
        let server = try await InProcessServer.start(routes: [
            try Route(path: "/t", target: HostPort(host: "127.0.0.1", port: targetPort))
        ])
        let (client, port) = try startClient("http://127.0.0.1:\(server.port)/t")
        defer { client.stop() }
        let load = LoadLoop { Self.probe(port) }
        XCTAssertTrue(TestKit.poll(timeout: 30) { load.counts.withLock { $0.refused } >= 30 }, "\(load.counts.withLock { $0 })")
        XCTAssertEqual(load.counts.withLock { $0.echoed }, 0)
        XCTAssertTrue(client.waitForOutput("502 Bad Gateway: connection refused to 127.0.0.1:\(targetPort)"), client.stderr)

        let target = try await TestTarget.start(.echo(banner: nil), group: group, port: targetPort)
        let refusedBefore = load.counts.withLock { $0.refused }
        XCTAssertTrue(TestKit.poll(timeout: 30) { load.counts.withLock { $0.echoed } >= 30 }, "\(load.counts.withLock { $0 })")
        load.stop()
        let counts = load.counts.withLock { $0 }
        XCTAssertEqual(counts.hung, 0, "every connection ended promptly: \(counts)")
        XCTAssertEqual(counts.wrong, 0)
        XCTAssertLessThanOrEqual(counts.refused - refusedBefore, 5, "refusals stop once the target accepts: \(counts)")
        XCTAssertTrue(TestKit.settlesIdle(pid: client.pid), "the client does not spin")
        XCTAssertEqual(client.signal(SIGTERM), 0)
        await server.shutdown(drainTimeout: 0)
        await target.stop()
    }

    func testServerRestartedUnder200LiveTunnels() async throws {
        let target = try await TestTarget.start(.echo(banner: nil), group: group)
        let serverPort = RunningProcess.freePort()
        let arguments = ["--listen", "127.0.0.1:\(serverPort)", "--route", "/t=127.0.0.1:\(target.port)", "--drain-timeout", "0"]
        let first = try RunningProcess("purr-server", arguments)
        XCTAssertTrue(first.waitForOutput("listening on"), first.stderr)
        let (client, port) = try startClient("http://127.0.0.1:\(serverPort)/t")
        defer { client.stop() }
        var live: [BlockingSocket] = []
        for index in 0..<200 {
            let socket = try BlockingSocket(port: port, timeout: 5)
            let message = Array(String(format: "tunnel %03d", index).utf8)
            try socket.write(message)
            XCTAssertEqual(try socket.read(exactly: message.count), message)
            live.append(socket)
        }
        kill(first.pid, SIGKILL)
        XCTAssertNotNil(first.waitForExit())
        var noticed = 0
        for socket in live {
            // EOF or a reset; a hang would end in the socket's 5 s timeout.
            do {
                if try socket.readToEnd().isEmpty { noticed += 1 }
            } catch {
                if !"\(error)".contains("timed out") { noticed += 1 }
            }
            socket.close()
        }
        XCTAssertEqual(noticed, 200, "every live tunnel noticed the dead server")
        XCTAssertEqual(Self.probe(port), .refused, "while the server is down, new connections are refused cleanly")

        let second = try RunningProcess("purr-server", arguments)
        defer { second.stop() }
        XCTAssertTrue(second.waitForOutput("listening on"), second.stderr)
        for _ in 0..<200 { XCTAssertEqual(Self.probe(port), .echoed, "new connections go to the restarted server") }
        XCTAssertTrue(TestKit.settlesIdle(pid: client.pid), "the client does not spin")
        XCTAssertTrue(client.process.isRunning)
        XCTAssertEqual(client.signal(SIGTERM), 0)
        await target.stop()
    }

    func testServerOutOfFileDescriptorsDuringABurst() async throws {
        let target = try await TestTarget.start(.echo(banner: nil), group: group)
        let serverPort = RunningProcess.freePort()
        let binary = RunningProcess.productsDirectory.appendingPathComponent("purr-server").path
        let server = try RunningProcess(
            absolute: "/bin/sh",
            ["-c", "ulimit -n 64 && exec \(binary) --listen 127.0.0.1:\(serverPort) --route /t=127.0.0.1:\(target.port)"])
        defer { server.stop() }
        XCTAssertTrue(server.waitForOutput("listening on"), server.stderr)
        let (client, port) = try startClient("http://127.0.0.1:\(serverPort)/t")
        defer { client.stop() }
        // A burst of 150 tunnels opened at once and held: each relay costs the server two descriptors.
        let outcomes = Mutex<[LoadLoop.Outcome]>([])
        let burst = DispatchGroup()
        let held = Mutex<[BlockingSocket]>([])
        for _ in 0..<150 {
            burst.enter()
            Thread {
                defer { burst.leave() }
                guard let socket = try? BlockingSocket(port: port, timeout: 10) else {
                    outcomes.withLock { $0.append(.refused) }
                    return
                }
                held.withLock { $0.append(socket) }
                do {
                    try socket.write("ping")
                    let answer = try socket.read(max: 4)
                    outcomes.withLock { $0.append(answer == Array("ping".utf8) ? .echoed : (answer.isEmpty ? .refused : .wrong)) }
                } catch {
                    outcomes.withLock { $0.append("\(error)".contains("timed out") ? .hung : .refused) }
                }
            }.start()
        }
        XCTAssertEqual(burst.wait(timeout: .now() + 60), .success)
        let all = outcomes.withLock { $0 }
        XCTAssertEqual(all.count, 150)
        XCTAssertEqual(all.filter { $0 == .wrong }.count, 0, "no connection got wrong bytes: \(all)")
        XCTAssertGreaterThan(all.filter { $0 == .echoed }.count, 0)
        // Past the limit a connection is refused, or waits in the server's accept queue (`hung` here)
        // until descriptors free up: the kernel completed its handshake, so the client cannot know.
        XCTAssertGreaterThan(all.filter { $0 != .echoed }.count, 0, "the limit was reached")
        XCTAssertTrue(server.waitForOutput("out of file descriptors"), server.stderr)
        // Connections still queued keep the listener readable; without a backoff accept() would spin.
        XCTAssertTrue(TestKit.settlesIdle(pid: server.pid), "the server does not spin while at its limit")
        for socket in held.withLock({ $0 }) { socket.close() }
        XCTAssertTrue(TestKit.poll(timeout: 15) { Self.probe(port) == .echoed }, "recovers once descriptors are free")
        for _ in 0..<20 { XCTAssertEqual(Self.probe(port), .echoed) }
        XCTAssertTrue(TestKit.settlesIdle(pid: client.pid))
        XCTAssertEqual(server.signal(SIGTERM), 0)
        await target.stop()
    }

    func testClientOutOfFileDescriptorsDuringABurst() async throws {
        let target = try await TestTarget.start(.echo(banner: nil), group: group)
        let server = try await InProcessServer.start(routes: [
            try Route(path: "/t", target: HostPort(host: "127.0.0.1", port: target.port))
        ])
        let binary = RunningProcess.productsDirectory.appendingPathComponent("purr").path
        let client = try RunningProcess(
            absolute: "/bin/sh", ["-c", "ulimit -n 48 && exec \(binary) connect http://127.0.0.1:\(server.port)/t --listen 127.0.0.1:0"])
        defer { client.stop() }
        XCTAssertTrue(client.waitForOutput("listening on"), client.stderr)
        let line = try XCTUnwrap(client.stdout.split(separator: "\n").first { $0.hasPrefix("listening on") })
        let port = try XCTUnwrap(Int(line.split(separator: ":").last!))
        // 80 tunnels at once and held: each costs the client two descriptors, so most cannot be served.
        let held = Mutex<[BlockingSocket]>([])
        let echoed = Atomic(0)
        let burst = DispatchGroup()
        for _ in 0..<80 {
            burst.enter()
            Thread {
                defer { burst.leave() }
                guard let socket = try? BlockingSocket(port: port, timeout: 3) else { return }
                held.withLock { $0.append(socket) }
                if (try? socket.write("ping")) != nil, (try? socket.read(max: 4)) == Array("ping".utf8) {
                    echoed.add(1, ordering: .relaxed)
                }
            }.start()
        }
        XCTAssertEqual(burst.wait(timeout: .now() + 60), .success)
        XCTAssertGreaterThan(echoed.load(ordering: .relaxed), 0)
        XCTAssertLessThan(echoed.load(ordering: .relaxed), 80, "the descriptor limit was reached")
        XCTAssertTrue(TestKit.settlesIdle(pid: client.pid), "the client does not spin while out of descriptors")
        for socket in held.withLock({ $0 }) { socket.close() }
        XCTAssertTrue(TestKit.poll(timeout: 15) { Self.probe(port) == .echoed }, "recovers once descriptors are free")
        for _ in 0..<20 { XCTAssertEqual(Self.probe(port), .echoed) }
        XCTAssertTrue(client.process.isRunning)
        XCTAssertEqual(client.signal(SIGTERM), 0)
        await server.shutdown(drainTimeout: 0)
        await target.stop()
    }
}
