#if canImport(Glibc)
    import Glibc
#endif

/// Both sockets of one connection through an epoll hop (side 0: accepted, side 1: onward), with one
/// buffer per direction. Touched only by its loop's thread.
final class EpollLink {
    /// One direction: bytes read from its socket not yet written to the other one.
    struct Half {
        var pending = 0
        var offset = 0
        /// Input ended on this socket (read returned 0).
        var ended = false
        /// The end of input was passed on (the other socket's output is shut).
        var passedOn = false
        /// The events this socket is registered for, once it is.
        var interest: UInt32?
    }

    static let bufferSize = 16 * 1024
    /// Side 1 is -1 until the hop connects onward.
    var fds: (Int32, Int32)
    let buffers: (UnsafeMutableRawBufferPointer, UnsafeMutableRawBufferPointer)
    var halves = (Half(), Half())
    /// The side whose input is still an HTTP head: collected at the start of its buffer, not relayed (-1: none).
    var heading = -1
    /// Bytes of the head (and what came behind it) collected so far.
    var headLength = 0
    /// The onward connect is under way and the behavior waits for it.
    var connecting = false

    init(_ inbound: Int32) {
        fds = (inbound, -1)
        buffers = (
            UnsafeMutableRawBufferPointer.allocate(byteCount: Self.bufferSize, alignment: 16),
            UnsafeMutableRawBufferPointer.allocate(byteCount: Self.bufferSize, alignment: 16)
        )
    }

    func fd(_ side: Int) -> Int32 { side == 0 ? fds.0 : fds.1 }
    func buffer(_ side: Int) -> UnsafeMutableRawBufferPointer { side == 0 ? buffers.0 : buffers.1 }

    subscript(side: Int) -> Half {
        get { side == 0 ? halves.0 : halves.1 }
        set { if side == 0 { halves.0 = newValue } else { halves.1 = newValue } }
    }

    /// Copies `bytes` to the end of what `side`'s buffer holds for the other socket.
    func append(_ bytes: UnsafeRawBufferPointer, to side: Int) {
        let start = self[side].offset + self[side].pending
        UnsafeMutableRawBufferPointer(rebasing: buffer(side)[start..<(start + bytes.count)]).copyMemory(from: bytes)
        self[side].pending += bytes.count
    }

    func release() {
        close(fds.0)
        if fds.1 >= 0 { close(fds.1) }
        buffers.0.deallocate()
        buffers.1.deallocate()
    }
}
