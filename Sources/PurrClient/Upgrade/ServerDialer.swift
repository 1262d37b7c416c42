import NIOCore
import NIOPosix
import NIOSSL
import PurrCore

/// Opens one upgraded connection to a Purr server, directly or through an HTTP proxy.
public struct ServerDialer: Sendable {
    public var request: UpgradeRequest
    public var server: HostPort
    public var proxy: ProxySettings?
    /// Makes each proxy connection's authenticator; nil: Basic from the proxy URL's credentials.
    public var proxyAuthenticatorFactory: (any ProxyAuthenticatorFactory)?
    /// TLS to the server (https:// URLs): the context and the host for SNI and verification.
    public var tls: (context: NIOSSLContext, host: String)?
    public var connectTimeout: TimeAmount = .seconds(10)
    public var handshakeTimeout: TimeAmount = .seconds(15)
    /// For WebSocket requests: the frame limit and the ping interval.
    public var webSocket = WebSocketFrameBridge.Options(maxMessage: WebSocketFrameBridge.Options.clientMaxMessage)
    /// The tunnel's request serialized once; nil: this dial's request is serialized on its own.
    var requestBytes: RequestBytes?
    /// Succeeds when the app this dial is for has gone (closed or reset, not a half-close) before the
    /// relay: the connection to the server is closed then instead of waiting out its handshake. nil: never.
    var abandon: EventLoopFuture<Void>?
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
        // `proxy_auth` / `--proxy-auth`: the scheme, or the strongest the proxy offers.
        self.proxyAuthenticatorFactory = proxy.map { tunnel.proxyAuthenticatorFactory(for: $0) }
        if tunnel.pingInterval > 0 { webSocket.pingInterval = .nanoseconds(Int64(tunnel.pingInterval * 1e9)) }
    }

    /// Connects on `eventLoop` (so the relay can share it with the local side). `connected` is called
    /// once TCP is up; `completion` once with the upgraded channel, on the loop. The bytes that came behind
    /// the 101 wait at the channel's tail for the relay (`RelayHandOver`).
    public func dial(
        on eventLoop: any EventLoop,
        connected: @escaping @Sendable () -> Void = {},
        completion: @escaping @Sendable (Result<any Channel, HandshakeFailure>) -> Void
    ) {
        attempt(on: eventLoop, request: keyedRequest, connected: connected, completion: completion)
    }

    /// One connection; after a 407 that closed it, one more with the same authenticator.
    private func attempt(
        on eventLoop: any EventLoop, request: UpgradeRequest, authenticator: Authenticator? = nil, resumeWith: String? = nil,
        connected: @escaping @Sendable () -> Void, completion: @escaping @Sendable (Result<any Channel, HandshakeFailure>) -> Void
    ) {
        let earlyData = self.earlyData
        let authenticator = authenticator ?? makeAuthenticator(on: eventLoop)
        let hop = proxy?.endpoint ?? server
        bootstrap(on: eventLoop) { channel, handOver in
            let route = self.route(authenticator: authenticator, resumeWith: resumeWith)
            return ClientHandshakeHandler(route: route, request: request, handOver: handOver, earlyData: earlyData) { outcome in
                switch outcome {
                case .upgraded:
                    completion(.success(channel))
                case .failed(let failure):
                    completion(.failure(failure))
                case .reconnect(let authorization):
                    self.attempt(
                        on: eventLoop, request: request, authenticator: authenticator, resumeWith: authorization, connected: {},
                        completion: completion)
                }
            }
        }
        .connect(to: hop)
        .whenComplete { [abandon] result in
            switch result {
            case .success(let channel):
                abandon?.whenSuccess { channel.close(promise: nil) }
                connected()
            case .failure(let error):
                completion(.failure(Self.connectFailure(error, hop: hop, viaProxy: proxy != nil)))
            }
        }
    }

    /// One proxy connection's authenticator, kept for a reconnect (used on its loop only).
    private struct Authenticator: @unchecked Sendable {
        let value: any ProxyAuthenticator
    }

    private func makeAuthenticator(on eventLoop: any EventLoop) -> Authenticator? {
        guard let proxy else { return nil }
        let factory = proxyAuthenticatorFactory ?? BasicProxyAuthenticatorFactory(proxy: proxy)
        return Authenticator(value: factory.makeAuthenticator(proxyHost: proxy.endpoint.host))
    }

    private func route(authenticator: Authenticator?, resumeWith: String?) -> ClientHandshakeHandler.Route {
        ClientHandshakeHandler.Route(
            proxy: proxy, target: server, tls: tls, timeout: handshakeTimeout, webSocket: webSocket, authenticator: authenticator?.value,
            resumeWith: resumeWith, requestBytes: requestBytes)
    }

    /// A connection to the server (or its proxy) with the handshake handlers; `makeHandler` makes the
    /// `ClientHandshakeHandler` for the channel.
    private func bootstrap(
        on eventLoop: any EventLoop, makeHandler: @escaping @Sendable (any Channel, RelayHandOver) -> ClientHandshakeHandler
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
                    try ClientHandshakeHandler.install(on: channel) { handOver in makeHandler(channel, handOver) }
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
        if viaProxy { return HandshakeFailure(kind: .connect, "proxy \(hop): \(reason)") }
        return HandshakeFailure(
            kind: .connect, reason == "connection refused" ? "connection refused by \(hop)" : "cannot reach \(hop): \(reason)")
    }

    /// A warm pool's connection on `eventLoop`: connected, through the proxy and TLS, and sending nothing
    /// until `send(on:)` gives it a request. `lost` is called if the server closes it while it waits.
    func prepare(on eventLoop: any EventLoop, lost: @escaping @Sendable (String) -> Void) -> EventLoopFuture<PooledConnection> {
        let ready = eventLoop.makePromise(of: PooledConnection.self)
        prepare(on: eventLoop, authenticator: nil, resumeWith: nil, lost: lost, ready: ready)
        return ready.futureResult
    }

    private func prepare(
        on eventLoop: any EventLoop, authenticator: Authenticator?, resumeWith: String?, lost: @escaping @Sendable (String) -> Void,
        ready: EventLoopPromise<PooledConnection>
    ) {
        let hop = proxy?.endpoint ?? server
        let authenticator = authenticator ?? makeAuthenticator(on: eventLoop)
        bootstrap(on: eventLoop) { channel, handOver in
            let route = self.route(authenticator: authenticator, resumeWith: resumeWith)
            let handler = ClientHandshakeHandler(route: route, request: nil, handOver: handOver, lost: { lost($0) }) { outcome in
                switch outcome {
                case .upgraded:
                    guard let handler = try? channel.pipeline.syncOperations.handler(type: ClientHandshakeHandler.self) else {
                        ready.fail(HandshakeFailure(kind: .closed, "the pooled connection to the server closed"))
                        return
                    }
                    ready.succeed(PooledConnection(channel: channel, handler: handler))
                case .failed(let failure):
                    ready.fail(failure)
                case .reconnect(let authorization):
                    self.prepare(on: eventLoop, authenticator: authenticator, resumeWith: authorization, lost: lost, ready: ready)
                }
            }
            return handler
        }
        .connect(to: hop)
        .whenFailure { error in
            // The handler never became active to settle it.
            ready.fail(Self.connectFailure(error, hop: hop, viaProxy: proxy != nil))
        }
    }

    /// Sends this dialer's request on a pooled connection; reports like `dial`. On the connection's loop.
    func send(
        on pooled: PooledConnection,
        completion: @escaping @Sendable (Result<any Channel, HandshakeFailure>) -> Void
    ) {
        let channel = pooled.channel
        channel.eventLoop.preconditionInEventLoop()
        abandon?.whenSuccess { channel.close(promise: nil) }
        pooled.handler.value.claim(request: keyedRequest, earlyData: earlyData) { outcome in
            switch outcome {
            case .upgraded: completion(.success(channel))
            case .failed(let failure): completion(.failure(failure))
            case .reconnect: completion(.failure(HandshakeFailure(kind: .proxy, "the proxy asked to authenticate again")))
            }
        }
    }

    /// The same, as an async call (for `purr stdio`).
    public func dial(on eventLoop: any EventLoop) async throws -> any Channel {
        try await withCheckedThrowingContinuation { continuation in
            dial(on: eventLoop) { result in continuation.resume(with: result) }
        }
    }
}
