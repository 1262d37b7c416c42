import PurrTestSupport

/// What RFC 6455 and `WebSocketFrameBridge` say should come of a byte stream, read by a decoder written
/// for the tests: the data delivered, the pings to answer, whether the peer closed, the close code sent.
struct WebSocketFrameModel {
    enum Role { case server, client }

    var delivered: [UInt8] = []
    var pings: [[UInt8]] = []
    var peerClosed = false
    /// The close code we must send for a broken rule (1002, 1009).
    var failure: UInt16?
    /// The stream ended inside a frame.
    var incomplete = false

    init(_ bytes: [UInt8], role: Role, maxMessage: Int) {
        read(bytes, role: role, maxMessage: maxMessage)
    }

    private mutating func read(_ bytes: [UInt8], role: Role, maxMessage: Int) {
        var at = 0
        var inMessage = false
        var messageBytes = 0
        func take(_ count: Int) -> [UInt8]? {
            guard count >= 0, bytes.count - at >= count else { return nil }
            defer { at += count }
            return Array(bytes[at..<at + count])
        }
        while at < bytes.count, failure == nil {
            guard let head = take(2) else {
                incomplete = true
                return
            }
            var length = UInt64(head[1] & 0x7f)
            if length == 126 {
                guard let word = take(2) else {
                    incomplete = true
                    return
                }
                length = UInt64(word[0]) << 8 | UInt64(word[1])
            } else if length == 127 {
                guard let quad = take(8) else {
                    incomplete = true
                    return
                }
                length = quad.reduce(0) { $0 << 8 | UInt64($1) }
            }
            // Judged as soon as the length is known, before the key (as NIOWebSocket's decoder does).
            let fin = head[0] & 0x80 != 0
            let opcode = head[0] & 0x0f
            let control = opcode & 0x08 != 0
            if length > UInt64(maxMessage) {
                failure = 1009
                return
            }
            if control && !fin {
                failure = 1002
                return
            }
            if control && length > 125 {
                failure = 1002
                return
            }
            let masked = head[1] & 0x80 != 0
            guard let key = masked ? take(4) : [] else {
                incomplete = true
                return
            }
            // The bridge judges the header before any of the payload.
            if head[0] & 0x70 != 0 || masked != (role == .server) {
                failure = 1002
                return
            }
            let data = opcode <= 0x2
            switch opcode {
            case 0x0, 0x1, 0x2:
                if (opcode == 0) != inMessage {
                    failure = 1002
                    return
                }
                if opcode != 0 { messageBytes = 0 }
                messageBytes += Int(length)
                if messageBytes > maxMessage {
                    failure = 1009
                    return
                }
                inMessage = !fin
            case 0x8, 0x9, 0xA: break
            default:
                failure = 1002
                return
            }
            // A data frame's payload is passed on as it arrives, a control frame's once it is whole.
            var payload = Array(bytes[at..<min(bytes.count, at + Int(length))])
            at += payload.count
            for index in payload.indices where masked { payload[index] ^= key[index % 4] }
            if data { delivered += payload }
            if payload.count < Int(length) {
                incomplete = true
                return
            }
            switch opcode {
            case 0x8:
                // Nothing counts after the peer's close frame.
                peerClosed = true
                return
            case 0x9: pings.append(payload)
            default: break
            }
        }
    }

    /// A stream of frames, mostly well formed, with every rule broken now and then; `complete`: no frame
    /// promises more bytes than it has (for a live connection, where a short frame would wait forever).
    static func stream(_ random: inout SeededRandom, role: Role, maxMessage: Int, complete: Bool) -> [UInt8] {
        var bytes: [UInt8] = []
        var inMessage = false
        // Most frames keep the rules (so a stream gets past its first frames); each breaks one now and then.
        let breakOdds = 4 + random.below(40)
        for _ in 0..<(1 + random.below(12)) {
            let breaks = random.below(breakOdds) == 0
            var opcode: UInt8 = FuzzMutator.pick(inMessage ? [0x0, 0x0, 0x9, 0xA] : [0x2, 0x2, 0x1, 0x9, 0xA], &random)
            if random.below(60) == 0 { opcode = 0x8 }
            if breaks { opcode = FuzzMutator.pick([0x0, 0x1, 0x2, 0x3, 0x7, 0xB, 0xF, opcode], &random) }
            let control = opcode & 0x8 != 0
            let fin = control ? !(breaks && random.below(3) == 0) : random.below(3) != 0
            if !control { inMessage = !fin }
            let rsv: UInt8 = breaks && random.below(4) == 0 ? UInt8(1 + random.below(7)) << 4 : 0
            let masked = breaks && random.below(4) == 0 ? role == .client : role == .server
            let big = random.below(12) == 0 && (!control || breaks)
            let size = big ? maxMessage - 3 + random.below(6) : random.below(random.below(3) == 0 ? 600 : 40)
            let payload = Array(TestKit.randomPayload(count: (max(0, size) + 7) & ~7, seed: random.next() | 1).prefix(max(0, size)))
            bytes.append((fin ? 0x80 : 0) | rsv | UInt8(opcode))
            let maskBit: UInt8 = masked ? 0x80 : 0
            // The length: shortest form, a longer form than needed, or (when allowed) a lie.
            let lie = !complete && random.below(10) == 0
            let declared =
                lie
                ? FuzzMutator.pick([126, 65535, 65536, UInt64(maxMessage) + 1, 1 << 32, 1 << 63, UInt64.max], &random)
                : UInt64(payload.count)
            switch (declared, random.below(8)) {
            case (0..<126, 1..<8):
                bytes.append(maskBit | UInt8(declared))
            case (0..<65536, _):
                bytes += [maskBit | 126, UInt8(declared >> 8), UInt8(declared & 0xff)]
            default:
                bytes.append(maskBit | 127)
                bytes += (0..<8).reversed().map { UInt8((declared >> (UInt64($0) * 8)) & 0xff) }
            }
            let key = (0..<4).map { _ in UInt8(truncatingIfNeeded: random.next()) }
            if masked { bytes += key }
            bytes += masked ? payload.enumerated().map { $0.element ^ key[$0.offset % 4] } : payload
            if lie { break }
        }
        if !complete && random.below(4) == 0 {
            let dictionary: [[UInt8]] = [[0x82, 0x7e], [0x82, 0xff], [0x88, 0x80], [0x89, 0x7e, 0, 200], [0x00], [0x7f]]
            bytes = FuzzMutator.mutate(bytes, &random, dictionary: dictionary, limit: 4 * maxMessage + 64)
        }
        return bytes
    }

    /// Frames as written by our side (decoded leniently: these are ours).
    static func frames(_ bytes: [UInt8]) -> [(opcode: UInt8, payload: [UInt8])] {
        var frames: [(UInt8, [UInt8])] = []
        var at = 0
        while bytes.count - at >= 2 {
            var length = Int(bytes[at + 1] & 0x7f)
            var header = 2
            if length == 126, bytes.count - at >= 4 {
                length = Int(bytes[at + 2]) << 8 | Int(bytes[at + 3])
                header = 4
            } else if length == 127, bytes.count - at >= 10 {
                length = bytes[(at + 2)..<(at + 10)].reduce(0) { $0 << 8 | Int($1) }
                header = 10
            }
            let masked = bytes[at + 1] & 0x80 != 0
            let start = at + header + (masked ? 4 : 0)
            guard start + length <= bytes.count else { break }
            var payload = Array(bytes[start..<start + length])
            if masked {
                let key = Array(bytes[(at + header)..<(at + header + 4)])
                for index in payload.indices { payload[index] ^= key[index % 4] }
            }
            frames.append((bytes[at] & 0x0f, payload))
            at = start + length
        }
        return frames
    }
}
