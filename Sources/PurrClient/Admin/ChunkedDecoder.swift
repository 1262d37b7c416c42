import NIOCore
import PurrCore

/// HTTP/1.1 `Transfer-Encoding: chunked` bodies, decoded as they arrive.
struct ChunkedDecoder {
    enum State {
        case size([UInt8])
        case data(remaining: Int)
        case dataEnd(seen: Int)
        case done
    }

    enum Failure: Error, CustomStringConvertible {
        case badSize(String)
        var description: String {
            switch self {
            case .badSize(let text): return "bad chunk size '\(text)'"
            }
        }
    }

    private var state = State.size([])
    var isDone: Bool { if case .done = state { return true } else { return false } }

    /// Returns the body bytes contained in `buffer`.
    mutating func feed(_ buffer: inout ByteBuffer) throws(Failure) -> [UInt8] {
        var out: [UInt8] = []
        while buffer.readableBytes > 0 {
            switch state {
            case .size(var line):
                let byte = buffer.readInteger(as: UInt8.self)!
                if byte == 10 {
                    if line.last == 13 { line.removeLast() }
                    let text = String(decoding: line, as: UTF8.self)
                    let hex = text.split(separator: ";").first.map { $0.trimmingASCIIWhitespace() } ?? ""
                    guard let size = Int(hex, radix: 16), size >= 0 else { throw .badSize(text) }
                    state = size == 0 ? .done : .data(remaining: size)
                } else {
                    line.append(byte)
                    guard line.count < 128 else { throw .badSize(String(decoding: line, as: UTF8.self)) }
                    state = .size(line)
                }
            case .data(let remaining):
                let count = min(remaining, buffer.readableBytes)
                out += buffer.readBytes(length: count)!
                state = remaining - count == 0 ? .dataEnd(seen: 0) : .data(remaining: remaining - count)
            case .dataEnd(let seen):
                _ = buffer.readInteger(as: UInt8.self)
                state = seen == 1 ? .size([]) : .dataEnd(seen: seen + 1)
            case .done:
                return out
            }
        }
        return out
    }
}
