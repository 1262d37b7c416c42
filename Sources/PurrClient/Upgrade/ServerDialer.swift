import NIOCore
import NIOPosix
import NIOSSL
import PurrCore

/// Opens one upgraded connection to a Purr server, directly or through an HTTP proxy.
public struct ServerDialer: Sendable {
    public var request: UpgradeRequest
    public var server: HostPort
    public var proxy: ProxySettings?
    /// TLS to the server (https:// URLs): the context and the host for SNI and verification.
    public var tls: (context: NIOSSLContext, host: String)?
    public var connectTimeout: TimeAmount = .seconds(10)
    public var handshakeTimeout: TimeAmount = .seconds(15)
    /// For WebSocket requests: the frame limit and the ping interval.
    public var webSocket = WebSocketFrameBridge.Options(maxMessage: WebSocketFrameBridge.Options.clientMaxMessage)
    /// Early data for this dial; nil: none offered.
    public var earlyData: EarlyDataPlan? {
        didSet { request.offersEarlyData = earlyData != nil }
    }

    public init(request: UpgradeRequest, server: HostPort, proxy: ProxySettings?) {
        self.request = request
        self.server = server
        self.proxy = proxy
    }

    public init(tunnel: TunnelConfig, proxy: ProxySettings?, tls: NIOSSLContext? = nil) {
        self.init(request: tunnel.upgradeRequest, server: tunnel.url.endpoint, proxy: proxy)
        self.tls = tls.map { ($0, tunnel.url.host) }
        if tunnel.pingInterval > 0 { webSocket.pingInterval = .nanoseconds(Int64(tunnel.pingInterval * 1e9)) }
    }

    /// Connects on `eventLoop` (so the relay can share it with the local side). `connected` is called
    /// once TCP is up; `completion` once with the upgraded channel, on the loop. The bytes that came behind
    /// the 101 wait in the channel's `EarlyBytesHandler` for the relay.
    public func dial(
        on eventLoop: any EventLoop,
        connected: @escaping @Sendable () -> Void = {},
        completion: @escaping @Sendable (Result<any Channel, HandshakeFailure>) -> Void
    ) {
        let hop = proxy?.endpoint ?? server
        let request = keyedRequest
        let (proxy, server, tls, webSocket, timeout, earlyData) = (
            self.proxy, self.server, self.tls, self.webSocket, handshakeTimeout, self.earlyData
        )
        bootstrap(on: eventLoop) { channel, gate in
            UpgradeClientHandler(
                request: request, proxy: proxy, target: server, tls: tls, gate: gate, timeout: timeout, webSocket: webSocket,
                earlyData: earlyData
            ) { result in
                completion(result.map { channel })
            }
        }
        .connect(to: hop)
        .whenComplete { result in
            switch result {
            case .success:
                connected()
            case .failure(let error):
                completion(.failure(Self.connectFailure(error, hop: hop, viaProxy: proxy != nil)))
            }
        }
    }

    /// A connection to the server (or its proxy) with the handshake handlers; `makeHandler` makes the
    /// `UpgradeClientHandler` for the channel.
    private func bootstrap(
        on eventLoop: any EventLoop, makeHandler: @escaping @Sendable (any Channel, HandshakeGate) -> UpgradeClientHandler
    ) -> ClientBootstrap {
        let (proxy, tls, server) = (self.proxy, self.tls, self.server)  // server.port: TLS resumption's key
        return ClientBootstrap(group: eventLoop)
            .connectTimeout(connectTimeout)
            .channelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    try SocketTuning.apply(to: channel)
                    // Through a proxy, TLS starts after the CONNECT (the handler adds it); directly, at once.
                    if let tls, proxy == nil {
                        try channel.pipeline.syncOperations.addHandler(
                            ClientTLS.makeHandler(context: tls.context, host: tls.host, port: server.port))
                    }
                    let proxyTunnel = proxy.map { ProxyTunnelHandler(proxy: $0, target: server) }
                    try UpgradeClientHandler.install(on: channel, proxyTunnel: proxyTunnel) { gate in makeHandler(channel, gate) }
                }
            }
    }

    /// The request to send on one connection.
    var keyedRequest: UpgradeRequest {
        var keyed = self.request
        if keyed.upgrade == .websocket {
            // A fresh key for every connection (RFC 6455 4.1).
            keyed.webSocketKey = WebSocketHandshake.makeKey()
        }
        return keyed
    }

    static func connectFailure(_ error: any Error, hop: HostPort, viaProxy: Bool) -> HandshakeFailure {
        let reason = ConnectFailure.describe(error)
        if viaProxy { return HandshakeFailure("proxy \(hop): \(reason)") }
        return HandshakeFailure(reason == "connection refused" ? "connection refused by \(hop)" : "cannot reach \(hop): \(reason)")
    }

    /// A warm pool's connection on `eventLoop`: connected, through the proxy and TLS, and sending nothing
    /// until `send(on:)` gives it a request. `lost` is called if the server closes it while it waits.
    func prepare(on eventLoop: any EventLoop, lost: @escaping @Sendable (String) -> Void) -> EventLoopFuture<PooledConnection> {
        let hop = proxy?.endpoint ?? server
        let ready = eventLoop.makePromise(of: Void.self)
        let template = request
        let (proxy, server, tls, webSocket, timeout) = (self.proxy, self.server, self.tls, self.webSocket, handshakeTimeout)
        return bootstrap(on: eventLoop) { _, gate in
            UpgradeClientHandler(
                pooledWith: template, proxy: proxy, target: server, tls: tls, gate: gate, timeout: timeout, webSocket: webSocket,
                ready: { ready.completeWith($0.mapError { $0 }) }, lost: lost)
        }
        .connect(to: hop)
        .flatMapErrorThrowing { error in
            let failure = Self.connectFailure(error, hop: hop, viaProxy: proxy != nil)
            ready.fail(failure)  // the handler never became active to settle it
            throw failure
        }
        .flatMap { channel in
            ready.futureResult.map { PooledConnection(channel: channel) }.flatMapErrorThrowing { error in
                channel.close(promise: nil)
                throw error
            }
        }
    }

    /// Sends this dialer's request on a pooled connection; reports like `dial`. On the connection's loop.
    func send(
        on pooled: PooledConnection,
        completion: @escaping @Sendable (Result<any Channel, HandshakeFailure>) -> Void
    ) {
        let channel = pooled.channel
        channel.eventLoop.preconditionInEventLoop()
        guard let handler = try? channel.pipeline.syncOperations.handler(type: UpgradeClientHandler.self) else {
            completion(.failure(HandshakeFailure("the pooled connection to the server closed")))
            return
        }
        handler.claim(request: keyedRequest, earlyData: earlyData) { result in
            completion(result.map { channel })
        }
    }

    /// The same, as an async call (for `purr stdio`).
    public func dial(on eventLoop: any EventLoop) async throws -> any Channel {
        try await withCheckedThrowingContinuation { continuation in
            dial(on: eventLoop) { result in continuation.resume(with: result) }
        }
    }
}
