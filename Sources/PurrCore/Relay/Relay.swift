import NIOCore

/// Joins two connected channels into a two-way relay once any handshake is done.
public enum Relay {
    /// Channel options every relayed socket needs: half-closure so a FIN can travel on its own,
    /// reads driven by the glue (not by a handshake handler), keepalive to notice dead peers.
    public static func configure(_ channel: Channel) -> EventLoopFuture<Void> {
        channel.setOption(ChannelOptions.allowRemoteHalfClosure, value: true)
            .flatMap { channel.setOption(ChannelOptions.socketOption(.so_keepalive), value: 1) }
            .flatMap { channel.setOption(ChannelOptions.tcpOption(.tcp_nodelay), value: 1) }
    }

    /// Installs the glue on both channels (on their shared event loop), writes bytes that were read
    /// ahead during the handshake, and turns reading back on. `aCounter` counts bytes read on `a`.
    public static func join(
        _ a: Channel,
        _ b: Channel,
        aCounter: ByteCounter,
        bCounter: ByteCounter,
        pendingForA: ByteBuffer? = nil,
        pendingForB: ByteBuffer? = nil,
        aInputClosed: Bool = false,
        bInputClosed: Bool = false,
        errorSink: GlueHandler.ErrorSink? = nil
    ) throws {
        a.eventLoop.preconditionInEventLoop()
        precondition(a.eventLoop === b.eventLoop, "both sides of a relay must share one event loop")
        let (glueA, glueB) = GlueHandler.matchedPair(aCounter: aCounter, bCounter: bCounter, errorSink: errorSink)
        try a.pipeline.syncOperations.addHandler(glueA)
        try b.pipeline.syncOperations.addHandler(glueB)
        // Read-ahead bytes were read on the other side, so they count there.
        if let pendingForB, pendingForB.readableBytes > 0 {
            aCounter.add(pendingForB.readableBytes)
            b.writeAndFlush(pendingForB, promise: nil)
        }
        if let pendingForA, pendingForA.readableBytes > 0 {
            bCounter.add(pendingForA.readableBytes)
            a.writeAndFlush(pendingForA, promise: nil)
        }
        if aInputClosed { glueA.inputClosedBeforeJoin() }
        if bInputClosed { glueB.inputClosedBeforeJoin() }
        try a.syncOptions?.setOption(ChannelOptions.autoRead, value: true)
        try b.syncOptions?.setOption(ChannelOptions.autoRead, value: true)
        a.read()
        b.read()
    }
}
