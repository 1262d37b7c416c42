import NIOCore
import NIOPosix

/// Socket options every relayed connection gets, on both sides of every hop.
public enum SocketTuning {
    /// Probe an idle peer after 30 s, every 10 s, give up after 3 misses: a dead peer is noticed in
    /// about a minute instead of the kernel's default two hours.
    public static let keepaliveIdle: Int32 = 30
    public static let keepaliveInterval: Int32 = 10
    public static let keepaliveCount: Int32 = 3

    /// The largest read: NIO's default adaptive allocator stops at 64 KiB, so a bulk stream costs one
    /// read, one write and one pass through the pipeline per 64 KiB on each hop. The allocator only
    /// grows for reads that fill their buffer, so idle and interactive connections keep small buffers.
    public static let maximumRead = 1 << 20

    /// Bytes a relay may queue for a slow writer before it stops reading the other side (NIO's default
    /// is 64 KiB, less than one large read).
    public static let writeWaterMark = ChannelOptions.Types.WriteBufferWaterMark(low: 256 * 1024, high: 512 * 1024)

    /// Half-closure, no Nagle delay, keepalive and relay buffer sizes. Call from the channel's initializer.
    /// `accepted`: the channel came from a listener given `applyToListener`, whose TCP options the kernel
    /// copied into it already (four system calls less per connection). Otherwise it is a `ClientBootstrap`'s,
    /// which has set `TCP_NODELAY` already (NIO's default; setting it again costs two system calls).
    public static func apply(to channel: any Channel, accepted: Bool = false) throws {
        guard let options = channel.syncOptions else { return }
        try options.setOption(
            ChannelOptions.recvAllocator, value: AdaptiveRecvByteBufferAllocator(minimum: 64, initial: 2048, maximum: maximumRead))
        try options.setOption(ChannelOptions.writeBufferWaterMark, value: writeWaterMark)
        try options.setOption(ChannelOptions.allowRemoteHalfClosure, value: true)
        if !accepted { try setKeepalive(options) }
    }

    /// The TCP options of `apply` on a listening socket: Linux copies them into each accepted socket.
    public static func applyToListener(_ channel: any Channel) throws {
        guard let options = channel.syncOptions else { return }
        try setTCPOptions(options)
    }

    private static func setTCPOptions(_ options: any NIOSynchronousChannelOptions) throws {
        try options.setOption(ChannelOptions.tcpOption(.tcp_nodelay), value: 1)
        try setKeepalive(options)
    }

    private static func setKeepalive(_ options: any NIOSynchronousChannelOptions) throws {
        try options.setOption(ChannelOptions.socketOption(.so_keepalive), value: 1)
        #if os(Linux)
            try options.setOption(ChannelOptions.tcpOption(.init(rawValue: TCP_KEEPIDLE)), value: SocketOptionValue(keepaliveIdle))
            try options.setOption(ChannelOptions.tcpOption(.init(rawValue: TCP_KEEPINTVL)), value: SocketOptionValue(keepaliveInterval))
            try options.setOption(ChannelOptions.tcpOption(.init(rawValue: TCP_KEEPCNT)), value: SocketOptionValue(keepaliveCount))
        #endif
    }
}
