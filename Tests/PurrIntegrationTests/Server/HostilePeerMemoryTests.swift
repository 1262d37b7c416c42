import Foundation
import PurrCore
import PurrTestSupport
import Synchronization
import XCTest

/// Peers that try to fill the built `purr-server`'s memory: a refused upgrade followed by a stream
/// of bytes, and a WebSocket client that pings and never reads. Memory is read from /proc while
/// they push; a good tunnel beside them stays byte-exact.
final class HostilePeerMemoryTests: XCTestCase {
    let group = InProcessServer.group

    static let purrHead =
        "Connection: Upgrade\r\nUpgrade: purr\r\nPurr-Request: MEOW\r\nPurr-Version: 0.1.2\r\n"

    /// Streams `limit` bytes behind `head` (or until the server hangs up); returns how many went out.
    static func stream(port: Int, head: String, limit: Int, block: [UInt8]) -> Int {
        guard let socket = try? BlockingSocket(port: port, timeout: 10) else { return 0 }
        defer { socket.close() }
        guard (try? socket.write(head)) != nil else { return 0 }
        var sent = 0
        while sent < limit, (try? socket.write(block)) != nil { sent += block.count }
        return sent
    }

    /// Samples a process's RSS until `done` says so (bounded); returns the peak.
    static func peakResident(pid: Int32, timeout: Double, until done: () -> Bool) -> Int {
        var peak = TestKit.residentBytes(pid: pid) ?? 0
        _ = TestKit.poll(timeout: timeout) {
            peak = max(peak, TestKit.residentBytes(pid: pid) ?? 0)
            return done()
        }
        return max(peak, TestKit.residentBytes(pid: pid) ?? 0)
    }

    func testRefusedUpgradesReadNothingMoreIntoMemory() async throws {
        let target = try await TestTarget.start(.echo(banner: nil), group: group)
        let (server, port) = try RunningProcess.purrServer(
            config: """
                log_level = "error"
                max_connections_per_peer = 0
                [[routes]]
                path = "/t"
                target = "127.0.0.1:\(target.port)"
                [[routes]]
                path = "/locked"
                target = "127.0.0.1:\(target.port)"
                token = "a-long-route-token"
                """)
        defer { server.stop() }
        let block = [UInt8](repeating: 0x41, count: 1 << 20)
        let missing = "GET /missing HTTP/1.1\r\nHost: x\r\n\(Self.purrHead)\r\n"
        let locked = "GET /locked HTTP/1.1\r\nHost: x\r\n\(Self.purrHead)\r\n"
        // Warm up: the allocator's first arenas and NIO's buffers belong in the baseline.
        _ = Self.stream(port: port, head: missing, limit: 16 << 20, block: block)
        let good = try BlockingSocket(port: port, timeout: 20)
        _ = try good.upgrade(path: "/t", port: port)
        let baseline = try XCTUnwrap(TestKit.residentBytes(pid: server.pid))

        for head in [missing, locked] {
            let sent = Atomic<Int>(-1)
            let sender = Thread { sent.store(Self.stream(port: port, head: head, limit: 1 << 30, block: block), ordering: .relaxed) }
            sender.start()
            let peak = Self.peakResident(pid: server.pid, timeout: 60) { sent.load(ordering: .relaxed) >= 0 }
            XCTAssertGreaterThanOrEqual(sent.load(ordering: .relaxed), 0, "the sender never finished")
            let line = "\(head.prefix(12)): \(sent.load(ordering: .relaxed) >> 20) MiB sent, server RSS +\((peak - baseline) >> 10) KiB"
            FileHandle.standardError.write(Data("[refused stream] \(line)\n".utf8))
            XCTAssertLessThan(peak - baseline, 8 << 20, line)
        }

        // Fifty at once.
        let finished = Atomic<Int>(0)
        let total = Atomic<Int>(0)
        for _ in 0..<50 {
            Thread {
                total.wrappingAdd(Self.stream(port: port, head: missing, limit: 1 << 30, block: block), ordering: .relaxed)
                finished.wrappingAdd(1, ordering: .relaxed)
            }.start()
        }
        let peak = Self.peakResident(pid: server.pid, timeout: 90) { finished.load(ordering: .relaxed) == 50 }
        XCTAssertEqual(finished.load(ordering: .relaxed), 50, "senders still running")
        let line = "50 at once: \(total.load(ordering: .relaxed) >> 20) MiB sent, server RSS +\((peak - baseline) >> 10) KiB"
        FileHandle.standardError.write(Data("[refused stream] \(line)\n".utf8))
        XCTAssertLessThan(peak - baseline, 64 << 20, line)

        // The tunnel opened before is untouched.
        let payload = TestKit.randomPayload(count: 1 << 20, seed: 7)
        try good.write(payload)
        XCTAssertEqual(try good.read(exactly: payload.count), payload)
    }

    /// 256 MiB of pings offered by a client that never reads: the server answers within its
    /// writability (one pong waiting at most) and stops reading meanwhile, so the client's writes
    /// stall instead of growing the server.
    func testPingsThatAreNeverReadDoNotGrowTheServer() async throws {
        let target = try await TestTarget.start(.echo(banner: nil), group: group)
        let (server, port) = try RunningProcess.purrServer(
            config: """
                log_level = "error"
                [[routes]]
                path = "/t"
                target = "127.0.0.1:\(target.port)"
                """)
        defer { server.stop() }
        let good = try RawWebSocket(port: port, path: "/t")
        XCTAssertTrue(good.head.hasPrefix("HTTP/1.1 101"), good.head)
        let baseline = try XCTUnwrap(TestKit.residentBytes(pid: server.pid))

        let flood = try RawWebSocket(port: port, path: "/t")
        XCTAssertTrue(flood.head.hasPrefix("HTTP/1.1 101"), flood.head)
        flood.socket.setWriteTimeout(3)
        let chunk = Self.pingFrames(count: 8000)  // about 1 MiB of 125-byte pings
        let sent = Atomic<Int>(-1)
        let sender = Thread {
            var bytes = 0
            while bytes < 256 << 20, (try? flood.socket.write(chunk)) != nil { bytes += chunk.count }
            sent.store(bytes, ordering: .relaxed)
        }
        sender.start()
        let peak = Self.peakResident(pid: server.pid, timeout: 300) { sent.load(ordering: .relaxed) >= 0 }
        let offered = sent.load(ordering: .relaxed)
        XCTAssertGreaterThanOrEqual(offered, 0, "the sender never finished")
        let line = "\(offered >> 20) MiB of pings taken before the writes stalled, server RSS +\((peak - baseline) >> 10) KiB"
        FileHandle.standardError.write(Data("[ping flood] \(line)\n".utf8))
        XCTAssertLessThan(offered, 256 << 20, "nothing held the flood back: \(line)")
        XCTAssertLessThan(peak - baseline, 16 << 20, line)
        flood.socket.close()
        // Memory comes back once the flood's connection is gone, and the good tunnel still works.
        XCTAssertTrue(TestKit.poll(timeout: 20) { (TestKit.residentBytes(pid: server.pid) ?? .max) - baseline < 16 << 20 })
        let payload = TestKit.randomPayload(count: 100_000, seed: 3)
        try good.send(opcode: 0x2, payload)
        var echoed: [UInt8] = []
        while echoed.count < payload.count { echoed += try good.readFrame().payload }
        XCTAssertEqual(echoed, payload)
    }

    /// `count` masked ping frames of 125 bytes each, back to back.
    static func pingFrames(count: Int, masked: Bool = true) -> [UInt8] {
        let payload = [UInt8](repeating: 0x70, count: 125)
        let key: [UInt8] = [0x12, 0x34, 0x56, 0x78]
        var frame: [UInt8] = [0x89, (masked ? 0x80 : 0) | 125]
        if masked {
            frame += key
            frame += payload.enumerated().map { $0.element ^ key[$0.offset % 4] }
        } else {
            frame += payload
        }
        var frames: [UInt8] = []
        frames.reserveCapacity(frame.count * count)
        for _ in 0..<count { frames += frame }
        return frames
    }

    /// The same against the client: a hostile server (a stand-in: no real server floods pings) answers
    /// the client's WebSocket upgrade, then sends unmasked pings and never reads the pongs.
    func testClientBoundsPongsToAServerThatNeverReads() throws {
        let listener = LoopbackListener.open()
        defer { close(listener.fd) }
        let client = try RunningProcess(
            "purr", ["connect", "ws://127.0.0.1:\(listener.port)/t", "--log-level", "warning"])
        defer { client.stop() }
        XCTAssertTrue(client.waitForOutput("listening on"), client.stderr)
        let line = try XCTUnwrap(client.stdout.split(separator: "\n").first { $0.hasPrefix("listening on") })
        let local = try XCTUnwrap(Int(line.split(separator: ":").last!.split(separator: ",").first!))
        let app = try BlockingSocket(port: local, timeout: 20)
        let accepted = accept(listener.fd, nil, nil)
        XCTAssertGreaterThanOrEqual(accepted, 0)
        let upstream = BlockingSocket(adopting: accepted, timeout: 10)
        let (head, _) = try upstream.readHead()
        let key = try XCTUnwrap(
            head.split(separator: "\r\n").first { $0.lowercased().hasPrefix("sec-websocket-key:") }?
                .split(separator: ":", maxSplits: 1).last?.trimmingCharacters(in: .whitespaces))
        try upstream.write(
            "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                + "Sec-WebSocket-Accept: \(WebSocketHandshake.accept(for: key))\r\n\r\n")
        let baseline = try XCTUnwrap(TestKit.residentBytes(pid: client.pid))
        upstream.setWriteTimeout(3)
        let chunk = Self.pingFrames(count: 8000, masked: false)
        let sent = Atomic<Int>(-1)
        Thread {
            var bytes = 0
            while bytes < 256 << 20, (try? upstream.write(chunk)) != nil { bytes += chunk.count }
            sent.store(bytes, ordering: .relaxed)
        }.start()
        let peak = Self.peakResident(pid: client.pid, timeout: 300) { sent.load(ordering: .relaxed) >= 0 }
        let offered = sent.load(ordering: .relaxed)
        let summary = "\(offered >> 20) MiB of pings taken, client RSS +\((peak - baseline) >> 10) KiB"
        FileHandle.standardError.write(Data("[ping flood, client] \(summary)\n".utf8))
        XCTAssertGreaterThanOrEqual(offered, 0, "the sender never finished")
        XCTAssertLessThan(offered, 256 << 20, "nothing held the flood back: \(summary)")
        XCTAssertLessThan(peak - baseline, 16 << 20, summary)
        upstream.close()
        app.close()
    }
}
