import NIOCore

/// What the kernel knows about one TCP socket (Linux `TCP_INFO`): round-trip time, loss and the
/// bytes on their way. The admin JSON's `tcp` objects; absent fields are unknown (other systems).
public struct TCPHealth: Sendable, Codable, Equatable {
    /// Smoothed round-trip time and its variation, microseconds.
    public var rttUs: Int
    public var rttvarUs: Int
    /// The lowest round-trip time seen on this socket, microseconds (0: unknown).
    public var minRttUs: Int
    /// Segments retransmitted since the connection opened.
    public var retransmits: Int
    /// Segments the kernel considers lost now.
    public var lost: Int
    /// Segments sent and not yet acknowledged, and about how many bytes that is.
    public var unacked: Int
    public var unackedBytes: Int
    /// Bytes written by the program and not yet sent (waiting for the window).
    public var notsentBytes: Int
    /// Congestion window, segments.
    public var cwnd: Int
    /// Bytes the peer acknowledged / bytes received, over the connection's life.
    public var bytesAcked: Int
    public var bytesReceived: Int

    public init(
        rttUs: Int, rttvarUs: Int, minRttUs: Int = 0, retransmits: Int, lost: Int = 0, unacked: Int, unackedBytes: Int = 0,
        notsentBytes: Int = 0, cwnd: Int = 0, bytesAcked: Int = 0, bytesReceived: Int = 0
    ) {
        self.rttUs = rttUs
        self.rttvarUs = rttvarUs
        self.minRttUs = minRttUs
        self.retransmits = retransmits
        self.lost = lost
        self.unacked = unacked
        self.unackedBytes = unackedBytes
        self.notsentBytes = notsentBytes
        self.cwnd = cwnd
        self.bytesAcked = bytesAcked
        self.bytesReceived = bytesReceived
    }

    /// The kernel's `struct tcp_info` is longer than glibc's copy of it; the fields past glibc's end
    /// (bytes acknowledged, not-sent bytes, minimum RTT) are read at their fixed kernel offsets.
    typealias Raw = (
        UInt64, UInt64, UInt64, UInt64, UInt64, UInt64, UInt64, UInt64, UInt64, UInt64, UInt64, UInt64, UInt64, UInt64, UInt64, UInt64,
        UInt64, UInt64, UInt64, UInt64, UInt64, UInt64, UInt64, UInt64, UInt64, UInt64, UInt64, UInt64, UInt64, UInt64, UInt64, UInt64
    )

    /// Decodes the bytes `getsockopt(TCP_INFO)` filled in (zeros where the kernel is older).
    init(kernelBytes bytes: UnsafeRawBufferPointer) {
        func u32(_ offset: Int) -> Int { Int(bytes.loadUnaligned(fromByteOffset: offset, as: UInt32.self)) }
        func u64(_ offset: Int) -> Int { Int(truncatingIfNeeded: bytes.loadUnaligned(fromByteOffset: offset, as: UInt64.self)) }
        let mss = u32(16)
        let unacked = u32(24)
        self.init(
            rttUs: u32(68), rttvarUs: u32(72), minRttUs: u32(148), retransmits: u32(100), lost: u32(32), unacked: unacked,
            unackedBytes: unacked * mss, notsentBytes: u32(144), cwnd: u32(80), bytesAcked: u64(120), bytesReceived: u64(128))
    }

    /// Reads a channel's socket on its event loop; nil when it is not a TCP socket or the system has no TCP_INFO.
    public static func read(_ channel: any Channel) -> EventLoopFuture<TCPHealth?> {
        #if os(Linux)
            guard let provider = channel as? any SocketOptionProvider else { return channel.eventLoop.makeSucceededFuture(nil) }
            let future: EventLoopFuture<Raw> = provider.unsafeGetSocketOption(level: .tcp, name: .tcp_info)
            return future.map { raw -> TCPHealth? in
                withUnsafeBytes(of: raw) { TCPHealth(kernelBytes: $0) }
            }.recover { _ in nil }
        #else
            return channel.eventLoop.makeSucceededFuture(nil)
        #endif
    }
}
