import Foundation
import NIOCore
import Synchronization

/// The server's last accepted 101 to a tunnel's request, byte for byte. The same bytes are the same
/// answer to the same request, so they are not read again: splitting a head into lines and fields was
/// 5 % of a client connection's CPU in `purr-bench rate`. Anything else is read in full, as before.
final class KnownAnswer: Sendable {
    private let last = Mutex<(head: ByteBuffer, earlyData: Bool)?>(nil)

    init() {}

    /// When `buffer` starts with the remembered head: moves past it and returns that head's early-data
    /// answer; nil otherwise (`buffer` untouched).
    func match(_ buffer: inout ByteBuffer) -> Bool? {
        guard let known = last.withLock({ $0 }) else { return nil }
        let count = known.head.readableBytes
        guard buffer.readableBytes >= count else { return nil }
        let same = buffer.withUnsafeReadableBytes { bytes in
            known.head.withUnsafeReadableBytes { head in memcmp(bytes.baseAddress!, head.baseAddress!, count) == 0 }
        }
        guard same else { return nil }
        buffer.moveReaderIndex(forwardBy: count)
        return known.earlyData
    }

    /// `head`: an accepted 101's bytes, from its status line to its empty line.
    func remember(_ head: ByteBuffer, earlyData: Bool) {
        last.withLock { $0 = (head, earlyData) }
    }
}
