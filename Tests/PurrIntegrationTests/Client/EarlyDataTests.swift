import Foundation
import NIOCore
import NIOEmbedded
import PurrCore
import PurrServer
import PurrTestSupport
import Synchronization
import XCTest

@testable import PurrClient

/// Early data: the app's first bytes ride behind the upgrade request, but only to a server whose 101
/// said it keeps them; never to the original server.
final class EarlyDataTests: XCTestCase {
    let group = InProcessServer.group

    func tunnel(to port: Int, earlyData: Bool = true) async throws -> (TunnelEngine, Int) {
        let engine = TunnelEngine(group: group, logger: InProcessServer.quietLogger, environment: [:])
        var config = TunnelConfig(name: "early", url: try ServerURL(parsing: "http://127.0.0.1:\(port)/t"))
        config.earlyData = earlyData
        let tunnel = try engine.add(config)
        let state = await tunnel.open()
        XCTAssertEqual(state, .listening)
        return (engine, tunnel.snapshot.port ?? 0)
    }

    /// Connects, sends `text` at once, and reads it back.
    func roundTrip(_ port: Int, _ text: String) throws {
        let socket = try BlockingSocket(port: port)
        defer { socket.close() }
        try socket.write(text)
        XCTAssertEqual(try socket.read(exactly: text.utf8.count), Array(text.utf8))
    }

    func testSentOnlyAfterTheServerSaidItKeepsThem() async throws {
        let standIn = try OriginalServerStandIn(
            response101: OriginalServerStandIn.advertisingEarlyData(try WireFixtures.originalServer101()), banner: "", earlyWait: 0.3)
        defer { standIn.stop() }
        let (engine, port) = try await tunnel(to: standIn.port)
        try roundTrip(port, "first")
        try roundTrip(port, "PING\r\n")
        let exchanges = standIn.exchanges
        XCTAssertEqual(exchanges.count, 2)
        XCTAssertTrue(exchanges.allSatisfy { $0.head.contains("Purr-Early-Data: 1\r\n") }, "our client offers early data")
        XCTAssertEqual(exchanges.first?.beforeAnswer, [], "nothing early before the server said yes")
        // The stand-in waits a moment for bytes behind the head before it answers: they came.
        XCTAssertEqual(exchanges.last?.beforeAnswer, Array("PING\r\n".utf8), "the app's first bytes rode behind the request")
        await engine.shutdown()
    }

    /// The client's handshake handler in an EmbeddedChannel: with the server's yes, the app's bytes go out
    /// right behind the request head, those already read and those that come before the 101, and none
    /// after it (they wait for the relay); without the yes, the head alone.
    func testHandlerSendsTheAppsBytesBehindTheHeadOnlyWhenAllowed() throws {
        for send in [true, false] {
            let learned = Mutex<[Bool]>([])
            let local = EmbeddedChannel(handler: RelayEndHandler())
            try local.writeInbound(ByteBuffer(string: "PING\r\n"))
            let counter = ByteCounter()
            let plan = EarlyDataPlan(send: send, local: local, counter: counter) { value in learned.withLock { $0.append(value) } }
            let channel = EmbeddedChannel()
            var request = UpgradeRequest(path: "/t", host: "x")
            request.offersEarlyData = true
            let done = Mutex<Bool?>(nil)
            let route = ClientHandshakeHandler.Route(proxy: nil, target: HostPort(host: "x", port: 1), tls: nil, timeout: .seconds(5))
            try ClientHandshakeHandler.install(on: channel) { handOver in
                ClientHandshakeHandler(route: route, request: request, handOver: handOver, earlyData: plan) { outcome in
                    if case .upgraded = outcome { done.withLock { $0 = true } } else { done.withLock { $0 = false } }
                }
            }
            func sent() throws -> String {
                var text = ""
                while let part = try channel.readOutbound(as: IOData.self) {
                    if case .byteBuffer(let buffer) = part { text += String(buffer: buffer) }
                }
                return text
            }
            try channel.connect(to: SocketAddress(ipAddress: "127.0.0.1", port: 1)).wait()
            try local.writeInbound(ByteBuffer(string: "MORE"))
            let before = try sent()
            XCTAssertTrue(before.hasPrefix(request.encoded()), before)
            XCTAssertEqual(String(before.dropFirst(request.encoded().count)), send ? "PING\r\nMORE" : "", "send: \(send)")
            XCTAssertEqual(counter.total, send ? 10 : 0, "bytes sent early are counted")
            try channel.writeInbound(ByteBuffer(string: UpgradeResponse.switching(.purr, earlyData: true)))
            channel.embeddedEventLoop.run()
            try local.writeInbound(ByteBuffer(string: "LATE"))
            XCTAssertEqual(try sent(), "", "after the 101 the app's bytes wait for the relay")
            XCTAssertEqual(learned.withLock { $0 }, [true], "the 101 said yes")
            XCTAssertEqual(done.withLock { $0 }, true)
            _ = try? channel.finish()
            _ = try? local.finish()
        }
    }

    func testNeverToTheOriginalServer() async throws {
        let standIn = try OriginalServerStandIn(response101: try WireFixtures.originalServer101(), banner: "", earlyWait: 0.3)
        defer { standIn.stop() }
        let (engine, port) = try await tunnel(to: standIn.port)
        for text in ["one", "two", "three"] { try roundTrip(port, text) }
        XCTAssertEqual(standIn.exchanges.count, 3)
        XCTAssertTrue(standIn.exchanges.allSatisfy { $0.beforeAnswer.isEmpty }, "the original 101 never says yes")
        await engine.shutdown()
    }

    func testTurnedOffNeitherOffersNorSends() async throws {
        let standIn = try OriginalServerStandIn(
            response101: OriginalServerStandIn.advertisingEarlyData(try WireFixtures.originalServer101()), banner: "", earlyWait: 0.3)
        defer { standIn.stop() }
        let (engine, port) = try await tunnel(to: standIn.port, earlyData: false)
        try roundTrip(port, "first")
        try roundTrip(port, "second")
        XCTAssertTrue(standIn.exchanges.allSatisfy { !$0.head.contains("Purr-Early-Data") && $0.beforeAnswer.isEmpty })
        await engine.shutdown()
    }

    func testThroughPurrServerByteExactAndCounted() async throws {
        let target = try await TestTarget.start(.echo(banner: nil), group: group)
        let server = try await InProcessServer.start(routes: [
            try Route(path: "/t", target: HostPort(host: "127.0.0.1", port: target.port))
        ])
        let engine = TunnelEngine(group: group, logger: InProcessServer.quietLogger, environment: [:])
        let tunnel = try engine.add(TunnelConfig(name: "early", url: try ServerURL(parsing: "http://127.0.0.1:\(server.port)/t")))
        await tunnel.open()
        let port = tunnel.snapshot.port ?? 0
        try roundTrip(port, "learn")
        // Now early: a client that speaks first with more than one read's worth, then half-closes.
        let payload = TestKit.randomPayload(count: 1 << 20, seed: 5)
        let socket = try BlockingSocket(port: port)
        let outcome = try Duplex.exchange(socket, payload: payload)
        XCTAssertEqual(outcome.receivedSHA256, TestKit.sha256(payload))
        socket.close()
        XCTAssertTrue(TestKit.poll { tunnel.snapshot.active == 0 })
        XCTAssertEqual(tunnel.snapshot.bytesUp, 5 + payload.count, "early bytes are counted once")
        XCTAssertEqual(tunnel.snapshot.bytesDown, 5 + payload.count)
        await engine.shutdown()
        await server.shutdown(drainTimeout: 0)
        await target.stop()
    }
}
