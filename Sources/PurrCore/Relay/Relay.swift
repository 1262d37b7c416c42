import NIOCore

/// Joins two connected channels into a two-way relay once any handshake is done.
public enum Relay {
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
        var pendingForA = pendingForA
        var pendingForB = pendingForB
        var aInputClosed = aInputClosed
        var bInputClosed = bInputClosed
        takeReadAhead(from: a, into: &pendingForB, inputClosed: &aInputClosed)
        takeReadAhead(from: b, into: &pendingForA, inputClosed: &bInputClosed)
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

    /// Moves what a `ReadAheadHandler` held into the bytes for the partner, and removes it.
    private static func takeReadAhead(from channel: Channel, into pending: inout ByteBuffer?, inputClosed: inout Bool) {
        guard let held = try? channel.pipeline.syncOperations.handler(type: ReadAheadHandler.self) else { return }
        if var early = held.buffered {
            if pending == nil {
                pending = early
            } else {
                pending!.writeBuffer(&early)
            }
        }
        inputClosed = inputClosed || held.inputClosed
        channel.pipeline.syncOperations.removeHandler(held, promise: nil)
    }
}
