import Foundation
import Glibc
import NIOCore
import NIOEmbedded
import NIOWebSocket
import PurrCore
import PurrServer
import PurrTestSupport
import XCTest

/// WebSocket frames, good and broken every way RFC 6455 names (opcodes, reserved bits, masks, lengths up
/// to 2^64-1, fragmented and oversized control frames), cut at random places: NIOWebSocket's decoder and
/// `WebSocketFrameBridge` as server and client deliver exactly the data a test decoder reads from the same
/// bytes, answer pings, and end a broken stream with the right close code and then the connection. Then
/// the same streams against the built server's WebSocket upgrade, a good tunnel beside it byte-exact.
final class WebSocketFrameFuzzTests: XCTestCase {
    let group = InProcessServer.group

    /// What the glue would see: data, the end of input, errors.
    final class Sink: ChannelInboundHandler {
        typealias InboundIn = ByteBuffer
        var data: [UInt8] = []
        var inputClosed = false
        var errors: [any Error] = []

        func channelRead(context: ChannelHandlerContext, data: NIOAny) {
            var buffer = Self.unwrapInboundIn(data)
            self.data += buffer.readBytes(length: buffer.readableBytes) ?? []
        }

        func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
            if let event = event as? ChannelEvent, case .inputClosed = event { inputClosed = true }
        }

        func errorCaught(context: ChannelHandlerContext, error: any Error) { errors.append(error) }
    }

    /// Nil when the bridge did what the model says for `bytes`; else what differs.
    static func problem(_ bytes: [UInt8], role: WebSocketFrameModel.Role, maxMessage: Int, random: inout SeededRandom) throws -> String? {
        let model = WebSocketFrameModel(bytes, role: role, maxMessage: maxMessage)
        let channel = EmbeddedChannel()
        let sink = Sink()
        try WebSocketFrameBridge.install(on: channel, role: role == .server ? .server : .client, options: .init(maxMessage: maxMessage))
        try channel.pipeline.syncOperations.addHandler(sink)
        try channel.connect(to: SocketAddress(ipAddress: "127.0.0.1", port: 1)).wait()
        // Arrives in pieces, as from a socket.
        var at = 0
        while at < bytes.count, channel.isActive {
            let end = min(bytes.count, at + 1 + random.below(bytes.count < 2048 && random.below(2) == 0 ? 8 : 4096))
            try? channel.writeInbound(ByteBuffer(bytes: bytes[at..<end]))
            at = end
        }
        var written: [UInt8] = []
        while let buffer = try? channel.readOutbound(as: ByteBuffer.self) { written += buffer.readableBytesView }
        let frames = WebSocketFrameModel.frames(written)
        guard sink.data == model.delivered else {
            return
                "delivered \(sink.data.count) bytes, expected \(model.delivered.count) (failure \(model.failure.map(String.init) ?? "none"))"
        }
        // Every ping answered while writable; RFC 6455 lets only the latest of several be answered.
        let pongs = frames.filter { $0.opcode == 0xA }.map(\.payload)
        var remaining = model.pings[...]
        for pong in pongs {
            guard let found = remaining.firstIndex(of: pong) else {
                return "a pong for no ping (\(pongs.count) pongs, \(model.pings.count) pings)"
            }
            remaining = remaining[(found + 1)...]
        }
        if let last = model.pings.last, pongs.last != last { return "the last ping was not answered" }
        let closes = frames.filter { $0.opcode == 0x8 }
        if let code = model.failure {
            guard let close = closes.last, close.payload.count >= 2 else { return "no close frame for a broken rule (\(code) expected)" }
            let sent = UInt16(close.payload[0]) << 8 | UInt16(close.payload[1])
            guard sent == code, closes.count == 1 else { return "closed with \(sent), expected \(code) (\(closes.count) close frames)" }
            // The peer gets its moment to read the close frame, then the connection goes.
            channel.embeddedEventLoop.advanceTime(by: .seconds(3))
            guard !channel.isActive else { return "still open after the linger" }
        } else {
            guard closes.isEmpty else { return "a close frame without a broken rule" }
            guard sink.inputClosed == model.peerClosed else { return "the peer's close frame \(model.peerClosed ? "not seen" : "made up")" }
            guard channel.isActive else { return "closed without a reason" }
        }
        _ = try? channel.finish()
        return nil
    }

    func testFramesInProcess() throws {
        let run = FuzzRun("websocket-frames", iterations: 3000)
        var outcomes: [String: Int] = [:]
        let count = try run.inputs { index, random in
            let role: WebSocketFrameModel.Role = random.below(2) == 0 ? .server : .client
            let maxMessage = FuzzMutator.pick([126, 1000, 4096, 65536], &random)
            let bytes = WebSocketFrameModel.stream(&random, role: role, maxMessage: maxMessage, complete: random.below(3) == 0)
            if let problem = try Self.problem(bytes, role: role, maxMessage: maxMessage, random: &random) {
                XCTFail(
                    "\(run.label(index)): \(role), max \(maxMessage): \(problem); stream \(bytes.prefix(64).map { String($0, radix: 16) })")
                return false
            }
            let model = WebSocketFrameModel(bytes, role: role, maxMessage: maxMessage)
            let outcome =
                model.failure.map { "close \($0)" } ?? (model.peerClosed ? "peer close" : model.incomplete ? "incomplete" : "open")
            outcomes[outcome, default: 0] += 1
            return true
        }
        print("fuzz websocket-frames: \(outcomes)")
        for outcome in ["close 1002", "close 1009", "peer close", "incomplete", "open"] {
            run.expect(outcomes[outcome, default: 0], atLeast: 0.005, of: count, "\(outcome): \(outcomes)")
        }
    }

    /// The same streams (whole frames only) to the built server's WebSocket upgrade, echoed by the target.
    func testFramesAgainstTheBuiltServer() async throws {
        let target = try await TestTarget.start(.echo(banner: nil), group: group)
        let maxMessage = 4096
        let port = RunningProcess.freePort()
        let server = try RunningProcess(
            "purr-server",
            ["--listen", "127.0.0.1:\(port)", "--route", "/echo=127.0.0.1:\(target.port)", "--ws-max-message", "\(maxMessage)"])
        defer { server.stop() }
        XCTAssertTrue(server.waitForOutput("listening"), server.stderr)
        let beside = try BlockingSocket(port: port, timeout: 15)
        XCTAssertTrue(try beside.upgrade(path: "/echo", port: port).head.hasPrefix("HTTP/1.1 101"))
        let run = FuzzRun("websocket-server", iterations: 250)
        let watch = BesideWatch(beside: beside, pid: server.pid)
        var outcomes: [String: Int] = [:]
        try run.inputs { index, random in
            var bytes = WebSocketFrameModel.stream(&random, role: .server, maxMessage: maxMessage, complete: true)
            var model = WebSocketFrameModel(bytes, role: .server, maxMessage: maxMessage)
            if model.failure == nil && !model.peerClosed {
                bytes += [0x88, 0x82, 1, 2, 3, 4, 0x03 ^ 1, 0xE8 ^ 2]  // our close frame, 1000
                model = WebSocketFrameModel(bytes, role: .server, maxMessage: maxMessage)
            }
            let ws = try RawWebSocket(port: port, path: "/echo")
            defer { ws.socket.close() }
            guard ws.head.hasPrefix("HTTP/1.1 101") else {
                XCTFail("\(run.label(index)): upgrade got \(ws.head.prefix(40))")
                return false
            }
            try ws.socket.write(bytes)
            var echoed: [UInt8] = []
            var close: RawWebSocket.Frame?
            while close == nil, let frame = try? ws.readFrame() {
                if frame.opcode == 0x8 { close = frame } else if frame.opcode <= 0x2 { echoed += frame.payload }
            }
            let code = close?.closeCode
            outcomes[code.map(String.init) ?? "none", default: 0] += 1
            if let failure = model.failure {
                guard code == failure, echoed.count <= model.delivered.count,
                    echoed == Array(model.delivered.prefix(echoed.count))
                else {
                    XCTFail(
                        "\(run.label(index)): expected close \(failure), got \(code.map(String.init) ?? "none"), \(echoed.count) bytes echoed"
                    )
                    return false
                }
            } else {
                guard code == 1000, echoed == model.delivered else {
                    XCTFail(
                        "\(run.label(index)): expected \(model.delivered.count) bytes and 1000, got \(echoed.count) and \(code.map(String.init) ?? "none")"
                    )
                    return false
                }
            }
            try watch.sample(index, run.label(index))
            return server.process.isRunning
        }
        XCTAssertTrue(server.process.isRunning, server.stderr)
        print("fuzz websocket-server: close codes \(outcomes), \(watch.memory("server"))")
        try watch.finish(seed: 13)
    }

    /// The client's side: a hostile WebSocket server (made by hand here) sends the streams to the built
    /// `purr connect ws://`; the app gets exactly the data, a broken rule gets the client's close frame with
    /// its code; the client goes on for the next connection, a good tunnel beside it byte-exact.
    func testFramesFromAHostileServerToTheBuiltClient() async throws {
        let target = try await TestTarget.start(.echo(banner: nil), group: group)
        let goodServer = try await InProcessServer.start(routes: [
            try Route(path: "/t", target: HostPort(host: "127.0.0.1", port: target.port))
        ])
        let (listener, hostilePort) = LoopbackListener.open()
        defer { Glibc.close(listener) }
        let client = try RunningProcess("purr", ["connect", "ws://127.0.0.1:\(hostilePort)/x", "--listen", "127.0.0.1:0"])
        defer { client.stop() }
        let good = try RunningProcess("purr", ["connect", "ws://127.0.0.1:\(goodServer.port)/t", "--listen", "127.0.0.1:0"])
        defer { good.stop() }
        func listening(_ process: RunningProcess) throws -> Int {
            XCTAssertTrue(process.waitForOutput("listening on"), process.stderr)
            let line = try XCTUnwrap(process.stdout.split(separator: "\n").first { $0.hasPrefix("listening on") })
            return try XCTUnwrap(Int(line.split(separator: ":").last!.split(separator: ",").first!))
        }
        let appPort = try listening(client)
        let beside = try BlockingSocket(port: try listening(good), timeout: 15)
        let run = FuzzRun("websocket-client", iterations: 200)
        let watch = BesideWatch(beside: beside, pid: client.pid)
        var outcomes: [String: Int] = [:]
        let maxMessage = WebSocketFrameBridge.Options.clientMaxMessage
        try run.inputs { index, random in
            var bytes = WebSocketFrameModel.stream(&random, role: .client, maxMessage: 4096, complete: true)
            if random.below(8) == 0 { bytes += [0x82, 127, 0, 0, 1, 0, 0, 0, 0, 0] }  // a frame of 2^40 bytes announced
            var model = WebSocketFrameModel(bytes, role: .client, maxMessage: maxMessage)
            if model.failure == nil && !model.peerClosed {
                bytes += [0x88, 0x02, 0x03, 0xE8]  // the server's close frame, 1000
                model = WebSocketFrameModel(bytes, role: .client, maxMessage: maxMessage)
            }
            let app = try BlockingSocket(port: appPort, timeout: 15)
            defer { app.close() }
            // The client dials us for this connection: accept it (bounded), answer the upgrade, send the stream.
            var ready = pollfd(fd: listener, events: Int16(POLLIN), revents: 0)
            guard poll(&ready, 1, 15_000) == 1 else {
                XCTFail("\(run.label(index)): the client did not dial; \(client.stderr.suffix(300))")
                return false
            }
            let server = BlockingSocket(adopting: accept(listener, nil, nil), timeout: 15)
            defer { server.close() }
            let (head, _) = try server.readHead()
            let key = head.split(separator: "\r\n").first { $0.lowercased().hasPrefix("sec-websocket-key:") }.map {
                String($0.dropFirst("sec-websocket-key:".count)).trimmingCharacters(in: .whitespaces)
            }
            try server.write(
                "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                    + "Sec-WebSocket-Accept: \(WebSocketHandshake.accept(for: key ?? ""))\r\n\r\n")
            try server.write(bytes)
            // A broken rule: the client's close frame comes at once, and once we hang up the app's end follows.
            // Else the app's end comes first, and the client's close frame once the app is done too.
            let ws = RawWebSocket(serving: server, head: head, rest: [])
            var close: RawWebSocket.Frame?
            func readClose() {
                while close == nil, let frame = try? ws.readFrame() {
                    if frame.opcode == 0x8 { close = frame }
                }
            }
            if model.failure != nil {
                readClose()
                server.close()
            }
            let delivered = (try? app.readToEnd(limit: 1 << 20)) ?? []
            app.shutdownWrite()
            readClose()
            let code = close?.closeCode
            outcomes[code.map(String.init) ?? "none", default: 0] += 1
            if let failure = model.failure {
                guard code == failure, delivered == Array(model.delivered.prefix(delivered.count))
                else {
                    XCTFail(
                        "\(run.label(index)): expected close \(failure), got \(code.map(String.init) ?? "none"), \(delivered.count) bytes")
                    return false
                }
            } else {
                guard delivered == model.delivered, code == 1000 else {
                    XCTFail(
                        "\(run.label(index)): expected \(model.delivered.count) bytes and 1000, got \(delivered.count) and \(code.map(String.init) ?? "none")"
                    )
                    return false
                }
            }
            try watch.sample(index, run.label(index))
            guard client.process.isRunning else {
                XCTFail(
                    "\(run.label(index)): the client died on \(bytes.count) bytes: \(bytes.map { String(format: "%02x", $0) }.joined())")
                return false
            }
            return true
        }
        XCTAssertTrue(client.process.isRunning, client.stderr)
        print("fuzz websocket-client: close codes \(outcomes), \(watch.memory("client"))")
        await goodServer.shutdown(drainTimeout: 0)
    }
}
