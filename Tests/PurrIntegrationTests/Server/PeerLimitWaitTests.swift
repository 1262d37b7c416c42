import Foundation
import PurrCore
import PurrTestSupport
import XCTest

/// The per-address limit counts connections whose peer has not finished its request head (silent or
/// slow), not those waiting on this server (a target that does not answer its connect). Behind a load
/// balancer every user shares its address: upgrades to a hung target must not get everyone else, and
/// the balancer's `/healthz`, refused (found attacking: HAProxy marked every server down).
final class PeerLimitWaitTests: XCTestCase {
    func testUpgradesWaitingOnAHungTargetDoNotCountAgainstTheirAddress() async throws {
        let target = try await TestTarget.start(.echo(banner: nil), group: InProcessServer.group)
        // A target whose accept queue is full and never drained: connects to it hang (SYNs are dropped).
        let hung = LoopbackListener.open(backlog: 0)
        defer { close(hung.fd) }
        var fillers: [BlockingSocket] = []
        defer { for socket in fillers { socket.close() } }
        for _ in 0..<2 { if let socket = try? BlockingSocket(port: hung.port, timeout: 1) { fillers.append(socket) } }
        let port = RunningProcess.freePort()
        let server = try RunningProcess(
            "purr-server",
            [
                "--listen", "127.0.0.1:\(port)", "--route", "/hung=127.0.0.1:\(hung.port)", "--route", "/echo=127.0.0.1:\(target.port)",
                "--max-connections-per-peer", "8",
            ])
        defer { server.stop() }
        XCTAssertTrue(server.waitForOutput("listening"), server.stderr)

        // Twenty upgrades from this address, heads complete, all waiting on the hung target's connect.
        var waiting: [BlockingSocket] = []
        defer { for socket in waiting { socket.close() } }
        for _ in 0..<20 {
            let socket = try BlockingSocket(port: port, timeout: 10)
            try socket.write(UpgradeRequest(path: "/hung", host: "127.0.0.1:\(port)").encoded())
            waiting.append(socket)
        }
        // Within a few seconds (the hung connects take 10 s to fail) the same address gets its health
        // answer: before the fix it stayed 503 while those waits were counted against it.
        let healthy = TestKit.poll(timeout: 5) {
            guard let socket = try? BlockingSocket(port: port, timeout: 5) else { return false }
            defer { socket.close() }
            try? socket.write("GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n")
            return (try? socket.readResponse().status) == 200
        }
        XCTAssertTrue(healthy, server.stderr)
        // And a working tunnel.
        let tunnel = try BlockingSocket(port: port, timeout: 10)
        defer { tunnel.close() }
        let answer = try tunnel.upgrade(path: "/echo", port: port)
        XCTAssertTrue(answer.head.hasPrefix("HTTP/1.1 101"), "a slow target's waits do not refuse this address: \(answer.head)")
        try tunnel.write("still served")
        XCTAssertEqual(try tunnel.read(exactly: 12), Array("still served".utf8))
        tunnel.close()

        // Connections that say nothing still meet the limit: with eight silent ones open, the ninth is refused.
        var silent: [BlockingSocket] = []
        defer { for socket in silent { socket.close() } }
        for _ in 0..<8 { silent.append(try BlockingSocket(port: port, timeout: 10)) }
        // Each loop accepts on its own socket, so the probe may be counted before the last silent one: it
        // then gets no answer, and the next probe is the ninth.
        var seen = ""
        let refused = TestKit.poll(timeout: 10) {
            guard let socket = try? BlockingSocket(port: port, timeout: 5) else { return false }
            defer { socket.close() }
            socket.setReadTimeout(0.5)
            do {
                let answer = try socket.readResponse()
                seen = "\(answer.status) \(answer.body)"
                return answer.status == 503
            } catch {
                seen = "\(error)"
                return false
            }
        }
        XCTAssertTrue(refused, seen + server.stderr)
        await target.stop()
    }
}
