import NIOCore
import NIOEmbedded
import NIOHTTP1
import PurrCore
import PurrTestSupport
import XCTest

@testable import PurrServer

/// The upgrade's state machine on its own, and the server's head-reading pipeline (NIOHTTP1's decoder,
/// the gate, the handler) in an `EmbeddedChannel`: every refusal without a socket.
final class UpgradeStateMachineTests: XCTestCase {
    func testAcceptedHeadConnectsThenUpgradesOnceTheHeadHasEnded() throws {
        let route = try Route(path: "/t", target: HostPort(host: "127.0.0.1", port: 1))
        var machine = UpgradeStateMachine()
        guard
            case .connect(let chosen) = machine.receivedHead(
                .accept(route, UpgradeRequest(path: "/t", host: "x"), .known(HostPort(host: "127.0.0.1", port: 1))))
        else {
            return XCTFail("no connect")
        }
        XCTAssertEqual(chosen.port, 1)
        let target = EmbeddedChannel()
        // The target can connect before the decoder's `.end`: the hand-over waits for it.
        guard case .none = machine.targetConnected(target, clientActive: true) else { return XCTFail("upgraded too early") }
        guard case .upgrade(let upgraded, let request) = machine.receivedEnd(), request.upgrade == .purr else {
            return XCTFail("no upgrade")
        }
        XCTAssertTrue(upgraded === target)
        guard case .none = machine.channelInactive() else { return XCTFail("a finished upgrade reacts to nothing") }
    }

    func testTargetForAClientThatLeftIsClosedAndRefusalsHappenOnce() throws {
        let route = try Route(path: "/t", target: HostPort(host: "127.0.0.1", port: 1))
        var machine = UpgradeStateMachine()
        _ = machine.receivedHead(.accept(route, UpgradeRequest(path: "/t", host: "x"), .known(HostPort(host: "127.0.0.1", port: 1))))
        _ = machine.receivedEnd()
        guard case .clientGone(_, nil) = machine.channelInactive() else { return XCTFail("client gone") }
        guard case .closeTarget = machine.targetConnected(EmbeddedChannel(), clientActive: false) else {
            return XCTFail("a late target must be closed")
        }

        var refusing = UpgradeStateMachine()
        guard case .refuse(let refusal) = refusing.headerTimedOut(seconds: 2) else { return XCTFail("no 408") }
        XCTAssertEqual(refusal.status, 408)
        guard case .none = refusing.headerTimedOut(seconds: 2) else { return XCTFail("answered twice") }
        guard case .none = refusing.errorCaught(HTTPParserError.invalidMethod) else { return XCTFail("answered twice") }
        guard case .close = refusing.inputClosed() else { return XCTFail("a refused client that is done is closed") }
    }

    func testParserErrorsAndOversizedHeadsAreRefusedWithTheirStatus() {
        var garbage = UpgradeStateMachine()
        guard case .refuse(let bad) = garbage.errorCaught(HTTPParserError.invalidMethod) else { return XCTFail("no 400") }
        XCTAssertEqual(bad.status, 400)
        var big = UpgradeStateMachine()
        guard case .refuse(let large) = big.errorCaught(HandshakeGate.HeadTooLarge(limit: 1024)) else { return XCTFail("no 431") }
        XCTAssertEqual(large.status, 431)
        var quitter = UpgradeStateMachine()
        guard case .clientGone = quitter.errorCaught(HTTPParserError.invalidEOFState) else { return XCTFail("not client gone") }
    }

    /// A dynamic route: the source is asked first; its answer, its refusal or the deadline moves the
    /// machine on exactly once, and a client that leaves meanwhile ends it.
    func testChoosingAsksTheSourceThenConnectsOrRefusesOnce() throws {
        let allow = try AllowList(["127.0.0.1:*"])
        let route = try Route(path: "/t", allow: allow) { _ in HostPort(host: "127.0.0.1", port: 1) }
        let request = UpgradeRequest(path: "/t", host: "x")
        let question = TargetRequest(path: "/t", routePath: "/t")
        var machine = UpgradeStateMachine()
        guard case .lookup(let asked, let sent) = machine.receivedHead(.accept(route, request, .ask(question))) else {
            return XCTFail("no lookup")
        }
        XCTAssertEqual(asked.path, "/t")
        XCTAssertEqual(sent.routePath, "/t")
        // The decoder's end arrives while the source thinks: remembered for the hand-over.
        guard case .none = machine.receivedEnd() else { return XCTFail("nothing to do at the end yet") }
        guard case .none = machine.inputClosed() else { return XCTFail("the gate holds a FIN while choosing") }
        guard case .connect(let target) = machine.targetChosen(HostPort(host: "127.0.0.1", port: 7)) else { return XCTFail("no connect") }
        XCTAssertEqual(target.port, 7)
        let channel = EmbeddedChannel()
        guard case .upgrade(let upgraded, _) = machine.targetConnected(channel, clientActive: true) else {
            return XCTFail("the end was seen while choosing: upgrade at once")
        }
        XCTAssertTrue(upgraded === channel)
        guard case .none = machine.targetRefused(Refusal(.refused("late"))) else { return XCTFail("a late refusal changes nothing") }

        var refused = UpgradeStateMachine()
        _ = refused.receivedHead(.accept(route, request, .ask(question)))
        guard case .refuse(let refusal) = refused.targetRefused(Refusal(.forbiddenTarget(HostPort(host: "10.0.0.1", port: 1), route: "/t")))
        else { return XCTFail("no refusal") }
        XCTAssertEqual(refusal.status, 403)
        XCTAssertEqual(refusal.failure, .forbiddenTarget)
        guard case .none = refused.lookupTimedOut(.lookupTimeout(route: "/t", seconds: 1)) else { return XCTFail("answered twice") }
        guard case .none = refused.targetChosen(HostPort(host: "127.0.0.1", port: 1)) else {
            return XCTFail("a late answer connects nothing")
        }

        var slow = UpgradeStateMachine()
        _ = slow.receivedHead(.accept(route, request, .ask(question)))
        guard case .refuse(let timeout) = slow.lookupTimedOut(.lookupTimeout(route: "/t", seconds: 1)) else { return XCTFail("no 504") }
        XCTAssertEqual(timeout.status, 504)
        XCTAssertEqual(timeout.failure, .resolverTimeout)

        var gone = UpgradeStateMachine()
        _ = gone.receivedHead(.accept(route, request, .ask(question)))
        guard case .clientGone(let why, nil) = gone.channelInactive() else { return XCTFail("client gone") }
        XCTAssertEqual(why, "client disconnected while its target was being chosen")
        guard case .none = gone.targetChosen(HostPort(host: "127.0.0.1", port: 1)) else { return XCTFail("nobody to connect for") }
    }

    // MARK: The pipeline in an EmbeddedChannel

    func makeSettings(maxHeadSize: Int = 1024, perPeer: Int = 64) throws -> ServerSettings {
        var config = ServerConfig()
        config.routes = [try Route(path: "/t", target: HostPort(host: "127.0.0.1", port: 1))]
        config.maxHeadSize = maxHeadSize
        config.headerTimeout = 2
        config.maxConnectionsPerPeer = perPeer
        let registry = StatsRegistry(routes: config.routes, listen: "embedded")
        return ServerSettings(
            routes: RouteTable(config.routes), registry: registry, peers: PeerLimiter(), logger: InProcessServer.quietLogger,
            config: config)
    }

    func makeChannel(maxHeadSize: Int = 1024) throws -> (EmbeddedChannel, StatsRegistry) {
        let env = try makeSettings(maxHeadSize: maxHeadSize)
        return (try makeChannel(env), env.registry)
    }

    func makeChannel(_ env: ServerSettings, peer: String = "127.0.0.1") throws -> EmbeddedChannel {
        let channel = EmbeddedChannel()
        try UpgradeHandler.install(on: channel, env: env)
        try channel.connect(to: SocketAddress(ipAddress: peer, port: 9)).wait()
        return channel
    }

    /// Silent and handshaking connections count against their address; one more is 503 `peer_limit`,
    /// another address is not affected, and a closed one frees its slot.
    func testPeerLimitCountsSilentConnectionsPerAddress() throws {
        let env = try makeSettings(perPeer: 2)
        let first = try makeChannel(env)
        let second = try makeChannel(env)
        XCTAssertEqual(try answer(first), "")
        XCTAssertEqual(try answer(second), "")
        let third = try makeChannel(env)
        let refused = try answer(third)
        XCTAssertTrue(refused.hasPrefix("HTTP/1.1 503 "), refused)
        XCTAssertTrue(refused.contains("too many connections from your address"), refused)
        XCTAssertEqual(env.registry.snapshot().totals.failures["peer_limit"], 1)
        let other = try makeChannel(env, peer: "127.0.0.2")
        XCTAssertEqual(try answer(other), "", "another address has its own count")
        _ = try? third.finish()
        _ = try? first.finish()
        let fourth = try makeChannel(env)
        XCTAssertEqual(try answer(fourth), "", "a closed connection frees its slot")
        XCTAssertEqual(env.peers.count(of: "127.0.0.1"), 2)
        for channel in [second, other, fourth] { _ = try? channel.finish() }
        XCTAssertEqual(env.peers.count(of: "127.0.0.1"), 0)
    }

    /// After a refusal nothing the client sends reaches NIO's decoder (which holds an upgrade's
    /// trailing bytes until it leaves): the gate drops it.
    func testRefusedConnectionDropsWhatFollows() throws {
        let (channel, _) = try makeChannel()
        _ = try? channel.writeInbound(ByteBuffer(string: "GET /nowhere HTTP/1.1\r\nConnection: Upgrade\r\nUpgrade: purr\r\n\r\n"))
        XCTAssertTrue(try answer(channel).hasPrefix("HTTP/1.1 404 "))
        let decoder = try channel.pipeline.syncOperations.handler(type: ByteToMessageHandler<HTTPRequestDecoder>.self)
        let probe = InboundProbe()
        try channel.pipeline.syncOperations.addHandler(probe, position: .before(decoder))
        for _ in 0..<64 { _ = try? channel.writeInbound(ByteBuffer(repeating: 0x41, count: 64 * 1024)) }
        XCTAssertEqual(probe.seen, 0, "bytes behind a refused head reached the decoder")
        XCTAssertNil(try channel.readInbound(as: ByteBuffer.self))
        _ = try? channel.finish()
    }

    func answer(_ channel: EmbeddedChannel) throws -> String {
        var text = ""
        while let buffer = try channel.readOutbound(as: ByteBuffer.self) { text += String(buffer: buffer) }
        return text
    }

    func testRefusalsFromTheEmbeddedPipeline() throws {
        let purr = "Connection: Upgrade\r\nPurr-Request: MEOW\r\nPurr-Version: 0.1.2\r\nUpgrade: purr\r\n"
        let cases: [(String, String)] = [
            ("SSH-2.0-OpenSSH_9.2\r\n", "HTTP/1.1 400 Bad Request"),
            ("GET /t HTTP/1.1\r\nNo colon here\r\n\r\n", "HTTP/1.1 400 Bad Request"),
            ("GET /t HTTP/2.0\r\n\(purr)\r\n", "HTTP/1.1 400 Bad Request"),
            ("GET http://evil/t HTTP/1.1\r\n\(purr)\r\n", "request target must be a path"),
            ("GET /t HTTP/1.1\r\n\(purr)Content-Length: 3\r\n\r\nabc", "an upgrade request cannot have a body"),
            ("GET /nowhere HTTP/1.1\r\n\(purr)\r\n", "HTTP/1.1 404 Not Found"),
            ("GET /t HTTP/1.1\r\nHost: x\r\n\r\n", "not a Purr request: missing Upgrade header"),
        ]
        for (request, expected) in cases {
            let (channel, _) = try makeChannel()
            _ = try? channel.writeInbound(ByteBuffer(string: request))
            let text = try answer(channel)
            XCTAssertTrue(text.contains(expected), "\(request.debugDescription) got \(text.debugDescription)")
            _ = try? channel.finish()
        }
    }

    func testHeadOverTheLimitArrivingInPiecesIs431() throws {
        let (channel, registry) = try makeChannel(maxHeadSize: 1024)
        _ = try? channel.writeInbound(ByteBuffer(string: "GET /t HTTP/1.1\r\nX: "))
        for _ in 0..<8 { _ = try? channel.writeInbound(ByteBuffer(string: String(repeating: "a", count: 200))) }
        XCTAssertTrue(try answer(channel).hasPrefix("HTTP/1.1 431 "))
        XCTAssertEqual(registry.snapshot().totals.failures["head_too_large"], 1)
        _ = try? channel.finish()
    }

    func testStalledHeadTimesOutWith408() throws {
        let (channel, registry) = try makeChannel()
        try channel.writeInbound(ByteBuffer(string: "GET /t HTTP/1.1\r\n"))
        channel.embeddedEventLoop.advanceTime(by: .seconds(3))
        XCTAssertTrue(try answer(channel).hasPrefix("HTTP/1.1 408 "))
        XCTAssertEqual(registry.snapshot().totals.failures["header_timeout"], 1)
        _ = try? channel.finish()
    }

    // MARK: Draining and the health check

    /// A plain answer (the health check) ends the machine like a refusal: nothing after it does anything.
    func testHealthAnswerIsWrittenOnceAndEndsTheMachine() {
        var machine = UpgradeStateMachine()
        let ok = HealthCheck.answer(method: .GET, draining: false, retryAfter: 2)
        guard case .answer(let answer) = machine.receivedHead(.answer(ok)) else { return XCTFail("no answer") }
        XCTAssertEqual(answer.status, 200)
        guard case .none = machine.headerTimedOut(seconds: 1) else { return XCTFail("answered twice") }
        guard case .none = machine.channelInactive() else { return XCTFail("a health check is no client gone") }
        guard case .close = machine.inputClosed() else { return XCTFail("closed once the client is done") }
        XCTAssertEqual(HealthCheck.answer(method: .HEAD, draining: true, retryAfter: 7).status, 503)
        XCTAssertEqual(HealthCheck.answer(method: .DELETE, draining: false, retryAfter: 7).status, 405)
        XCTAssertTrue(HealthCheck.isHealthPath("/healthz"))
        XCTAssertTrue(HealthCheck.isHealthPath("/healthz?from=haproxy"))
        XCTAssertFalse(HealthCheck.isHealthPath("/healthzz"))
        XCTAssertFalse(HealthCheck.isHealthPath("/healthz/x"))
        XCTAssertFalse(HealthCheck.isHealthPath("/health"))
    }

    /// While draining, every upgrade (Purr, WebSocket, a reverse registration) gets 503 with
    /// `Retry-After` and the line `draining`, counted as `shutdown`; `/healthz` turns 503 too.
    /// Before, `/healthz` is 200 `ok` and no health check is counted as a connection.
    func testDrainingRefusesEveryUpgradeWith503AndRetryAfter() throws {
        let env = try makeSettings()
        let purr = "GET /t HTTP/1.1\r\nHost: x\r\nConnection: Upgrade\r\nPurr-Request: MEOW\r\nPurr-Version: 0.1.2\r\nUpgrade: purr\r\n\r\n"
        let webSocket =
            "GET /t HTTP/1.1\r\nHost: x\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n"
            + "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n"
        let reverse =
            "GET /t HTTP/1.1\r\nHost: x\r\nConnection: Upgrade\r\nPurr-Request: MEOW\r\nPurr-Version: 0.1.2\r\nUpgrade: purr\r\n"
            + "\(ReverseWire.nameHeader): svc\r\n\r\n"
        let health = "GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n"

        XCTAssertEqual(
            try exchange(env, health),
            "HTTP/1.1 200 OK\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Length: 3\r\n"
                + "Cache-Control: no-store\r\nConnection: close\r\n\r\nok\n")
        let head = try exchange(env, "HEAD /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
        XCTAssertTrue(head.hasPrefix("HTTP/1.1 200 OK\r\n") && head.hasSuffix("\r\n\r\n"), head)
        XCTAssertTrue(try exchange(env, "POST /healthz HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\n\r\n").contains("Allow: GET, HEAD"))
        XCTAssertTrue(
            try exchange(env, "GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: Upgrade\r\nUpgrade: purr\r\n\r\n")
                .hasPrefix("HTTP/1.1 404 "), "an upgrade at /healthz is refused, never routed")
        let counted = env.registry.snapshot().totals
        XCTAssertEqual(counted.total, 1, "only the upgrade at /healthz counts: health checks are not connections")
        XCTAssertEqual(counted.failures["no_route"], 1)

        XCTAssertTrue(env.registry.startDraining())
        XCTAssertFalse(env.registry.startDraining(), "true the first time only")
        XCTAssertTrue(env.registry.snapshot().server.draining)
        for request in [purr, webSocket, reverse] {
            let text = try exchange(env, request)
            XCTAssertTrue(text.hasPrefix("HTTP/1.1 503 Service Unavailable\r\n"), text)
            XCTAssertTrue(text.contains("\r\nRetry-After: 2\r\n"), text)
            XCTAssertTrue(text.hasSuffix("\r\n\r\ndraining\n"), text)
        }
        XCTAssertEqual(env.registry.snapshot().totals.failures["shutdown"], 3)
        let draining = try exchange(env, health)
        XCTAssertTrue(draining.hasPrefix("HTTP/1.1 503 Service Unavailable\r\n"), draining)
        XCTAssertTrue(draining.contains("\r\nRetry-After: 2\r\n") && draining.hasSuffix("\r\n\r\ndraining\n"), draining)
        // Not an upgrade at all: still the plain refusal it always was.
        XCTAssertTrue(try exchange(env, "GET /t HTTP/1.1\r\nHost: x\r\n\r\n").hasPrefix("HTTP/1.1 404 "))
        XCTAssertEqual(env.registry.activeCount, 0)
    }

    /// After a health answer nothing the client sends reaches the decoder (a health check is answered
    /// like a refusal: whatever follows is dropped, in small reads).
    func testHealthAnswerDropsWhatFollows() throws {
        let env = try makeSettings()
        let channel = try makeChannel(env)
        _ = try? channel.writeInbound(ByteBuffer(string: "GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n"))
        XCTAssertTrue(try answer(channel).hasPrefix("HTTP/1.1 200 OK\r\n"))
        let decoder = try channel.pipeline.syncOperations.handler(type: ByteToMessageHandler<HTTPRequestDecoder>.self)
        let probe = InboundProbe()
        try channel.pipeline.syncOperations.addHandler(probe, position: .before(decoder))
        for _ in 0..<64 { _ = try? channel.writeInbound(ByteBuffer(repeating: 0x41, count: 64 * 1024)) }
        XCTAssertEqual(probe.seen, 0, "bytes behind a health check reached the decoder")
        XCTAssertEqual(try answer(channel), "", "answered once")
        XCTAssertEqual(env.registry.activeCount, 0)
        XCTAssertEqual(env.registry.snapshot().totals.total, 0)
        _ = try? channel.finish()
    }

    /// One request on a new embedded connection; its whole answer.
    func exchange(_ env: ServerSettings, _ request: String) throws -> String {
        let channel = try makeChannel(env)
        _ = try? channel.writeInbound(ByteBuffer(string: request))
        let text = try answer(channel)
        _ = try? channel.finish()
        return text
    }
}

/// Counts the bytes that pass it.
final class InboundProbe: ChannelInboundHandler {
    typealias InboundIn = ByteBuffer
    typealias InboundOut = ByteBuffer
    var seen = 0

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        seen += Self.unwrapInboundIn(data).readableBytes
        context.fireChannelRead(data)
    }
}
