import Foundation
import PurrCore
import Synchronization

/// A WebSocket server made by hand, for what a real one will not do on demand: answer with a wrong
/// `Sec-WebSocket-Accept`, or never answer pings. Otherwise it echoes data frames back (unmasked) and
/// records what it saw: the request heads, pings, and any unmasked client frame. With `flood`, it first
/// sends that many bytes (64 KiB binary frames) on a thread of its own, its pongs queued behind them.
public final class WebSocketStandIn: @unchecked Sendable {
    public let port: Int
    private let listener: Int32
    private let answerPings: Bool
    private let wrongAccept: Bool
    private let flood: Int
    private let writing = NSLock()
    private let flooded = Atomic<Int>(0)
    private let seen = Mutex<(heads: [String], pings: Int, unmasked: Int)>(([], 0, 0))
    private let stopped = Atomic<Bool>(false)

    public init(answerPings: Bool = true, wrongAccept: Bool = false, flood: Int = 0) {
        self.answerPings = answerPings
        self.wrongAccept = wrongAccept
        self.flood = flood
        (listener, port) = LoopbackListener.open()
        Thread { [self] in
            while true {
                let client = accept(listener, nil, nil)
                if client < 0 { return }
                Thread { [self] in serve(BlockingSocket(adopting: client, timeout: 30)) }.start()
            }
        }.start()
    }

    public var heads: [String] { seen.withLock { $0.heads } }
    public var pings: Int { seen.withLock { $0.pings } }
    public var unmaskedFrames: Int { seen.withLock { $0.unmasked } }
    /// Bytes of the flood written so far.
    public var floodSent: Int { flooded.load(ordering: .relaxed) }

    private func serve(_ socket: BlockingSocket) {
        defer { socket.close() }
        guard let (head, rest) = try? socket.readHead() else { return }
        seen.withLock { $0.heads.append(head) }
        let keyLine = head.split(separator: "\r\n").first { $0.lowercased().hasPrefix("sec-websocket-key:") }
        let key = keyLine.map { String($0.dropFirst("sec-websocket-key:".count)).trimmingCharacters(in: .whitespaces) } ?? ""
        let accept = wrongAccept ? WebSocketHandshake.accept(for: "x" + key) : WebSocketHandshake.accept(for: key)
        let answer =
            "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: \(accept)\r\n\r\n"
        guard (try? socket.write(answer)) != nil else { return }
        let ws = RawWebSocket(serving: socket, head: head, rest: rest)
        if flood > 0 {
            Thread { [self] in
                let block = [UInt8](repeating: 0x66, count: 64 << 10)
                var left = flood
                while left > 0 {
                    let count = min(left, block.count)
                    writing.lock()
                    let sent = (try? ws.send(opcode: 0x2, Array(block[0..<count]), mask: false)) != nil
                    writing.unlock()
                    if !sent { return }
                    left -= count
                    flooded.wrappingAdd(count, ordering: .relaxed)
                }
            }.start()
        }
        while let frame = try? ws.readFrame() {
            if !frame.masked { seen.withLock { $0.unmasked += 1 } }
            switch frame.opcode {
            case 0x9:
                seen.withLock { $0.pings += 1 }
                if answerPings {
                    writing.lock()
                    try? ws.send(opcode: 0xA, frame.payload, mask: false)
                    writing.unlock()
                }
            case 0x8:
                writing.lock()
                try? ws.send(opcode: 0x8, frame.payload, mask: false)
                writing.unlock()
                return
            case 0x0, 0x1, 0x2:
                writing.lock()
                try? ws.send(opcode: 0x2, frame.payload, mask: false)
                writing.unlock()
            default:
                break
            }
        }
    }

    /// Closes the listener once.
    public func stop() {
        guard !stopped.exchange(true, ordering: .acquiringAndReleasing) else { return }
        shutdown(listener, Int32(SHUT_RDWR))
        close(listener)
    }

    deinit { stop() }
}
