import Foundation
import PurrCore

/// A WebSocket spoken by hand over a blocking socket, for the frames a real library refuses to send
/// (unmasked, reserved bits and opcodes). Everything else is tested with real libraries. One thread reads;
/// writers on other threads take turns (the stand-in's lock), so it is `@unchecked Sendable`.
public final class RawWebSocket: @unchecked Sendable {
    public let socket: BlockingSocket
    /// Bytes read past the last frame.
    private var pending: [UInt8]

    public struct Frame: Equatable {
        public var fin: Bool
        public var opcode: UInt8
        public var payload: [UInt8]
        /// Whether it came masked (as a client's must, and a server's must not).
        public var masked: Bool

        public init(fin: Bool, opcode: UInt8, payload: [UInt8], masked: Bool = false) {
            self.fin = fin
            self.opcode = opcode
            self.payload = payload
            self.masked = masked
        }

        /// The status code of a close frame.
        public var closeCode: UInt16? {
            guard opcode == 0x8, payload.count >= 2 else { return nil }
            return UInt16(payload[0]) << 8 | UInt16(payload[1])
        }
    }

    /// Connects and does the opening handshake; `head` is the server's answer.
    public init(port: Int, path: String, headers: String = "") throws {
        socket = try BlockingSocket(port: port, timeout: 10)
        let key = WebSocketHandshake.makeKey()
        try socket.write(
            "GET \(path) HTTP/1.1\r\nHost: 127.0.0.1:\(port)\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                + "Sec-WebSocket-Key: \(key)\r\nSec-WebSocket-Version: 13\r\n\(headers)\r\n")
        let (head, rest) = try socket.readHead()
        self.head = head
        pending = rest
        expectedAccept = WebSocketHandshake.accept(for: key)
    }

    public let head: String
    public let expectedAccept: String

    /// The server's side of a connection whose request head was read (`rest`: the bytes after it).
    public init(serving socket: BlockingSocket, head: String, rest: [UInt8]) {
        self.socket = socket
        self.head = head
        pending = rest
        expectedAccept = ""
    }

    /// Sends one frame; `mask` as a client must, `rsv` in the first byte's bits 4-6.
    public func send(opcode: UInt8, _ payload: [UInt8], fin: Bool = true, mask: Bool = true, rsv: UInt8 = 0) throws {
        var frame: [UInt8] = [(fin ? 0x80 : 0) | (rsv << 4) | opcode]
        let maskBit: UInt8 = mask ? 0x80 : 0
        switch payload.count {
        case 0..<126: frame.append(maskBit | UInt8(payload.count))
        case 126..<65536: frame += [maskBit | 126, UInt8(payload.count >> 8), UInt8(payload.count & 0xff)]
        default:
            frame.append(maskBit | 127)
            frame += (0..<8).reversed().map { UInt8((payload.count >> ($0 * 8)) & 0xff) }
        }
        if mask {
            let key: [UInt8] = [0x12, 0x34, 0x56, 0x78]
            frame += key
            frame += payload.enumerated().map { $0.element ^ key[$0.offset % 4] }
        } else {
            frame += payload
        }
        try socket.write(frame)
    }

    private func take(_ count: Int) throws -> [UInt8] {
        while pending.count < count {
            let chunk = try socket.read()
            if chunk.isEmpty { throw BlockingSocket.Failure(description: "EOF inside a frame") }
            pending += chunk
        }
        let taken = Array(pending[0..<count])
        pending.removeFirst(count)
        return taken
    }

    /// Reads one frame, unmasking it if it was masked.
    public func readFrame() throws -> Frame {
        let first = try take(2)
        var length = Int(first[1] & 0x7f)
        if length == 126 {
            length = try take(2).reduce(0) { $0 << 8 | Int($1) }
        } else if length == 127 {
            length = try take(8).reduce(0) { $0 << 8 | Int($1) }
        }
        let masked = first[1] & 0x80 != 0
        let key = masked ? try take(4) : []
        var payload = try take(length)
        if masked {
            for index in payload.indices { payload[index] ^= key[index % 4] }
        }
        return Frame(fin: first[0] & 0x80 != 0, opcode: first[0] & 0x0f, payload: payload, masked: masked)
    }

    /// Reads frames until a close frame, collecting the data before it.
    public func readUntilClose() throws -> (data: [UInt8], close: Frame) {
        var data: [UInt8] = []
        while true {
            let frame = try readFrame()
            if frame.opcode == 0x8 { return (data, frame) }
            data += frame.payload
        }
    }
}
