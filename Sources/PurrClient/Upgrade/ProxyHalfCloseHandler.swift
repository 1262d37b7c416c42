import NIOCore

/// Through a proxy, with TLS to the server: sits in front of TLS and keeps the TCP connection open when
/// TLS shuts its output after sending close_notify. Real proxies (tinyproxy, squid) end a tunnel in both
/// directions at the first FIN from either side, so the server's answer to our half-close (the rest of
/// its data, then its close_notify) would be cut off and the connection end in a ragged EOF. The
/// close_notify alone tells the server, through the proxy, that we are done; it closes when it is.
final class ProxyHalfCloseHandler: ChannelOutboundHandler, RemovableChannelHandler {
    typealias OutboundIn = ByteBuffer

    func close(context: ChannelHandlerContext, mode: CloseMode, promise: EventLoopPromise<Void>?) {
        guard mode == .output else {
            context.close(mode: mode, promise: promise)
            return
        }
        promise?.succeed(())
    }
}
