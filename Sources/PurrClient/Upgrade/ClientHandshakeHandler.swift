import NIOCore
import NIOSSL
import NIOTLS
import PurrCore

/// Carries out the `ClientHandshakeStateMachine`'s actions on one server connection: writes the CONNECT
/// and the upgrade request, asks the proxy authenticator, adds TLS after the proxy, sends early data,
/// runs the timer, and hands the channel over (`RelayHandOver`). Reports once, on the event loop.
///
/// Pipeline: [ProxyHalfCloseHandler] [TLS] this, RelayEndHandler. Through a proxy, TLS (and the
/// half-close guard in front of it) is added once the proxy said yes.
final class ClientHandshakeHandler: ChannelInboundHandler, RemovableChannelHandler {
    typealias InboundIn = ByteBuffer
    typealias OutboundOut = ByteBuffer

    /// How a connection's handshake ended.
    enum Outcome {
        /// Handed over: the channel is ready for a `RelaySession`.
        case upgraded
        case failed(HandshakeFailure)
        /// The proxy closed the connection with a 407: try once more on a new one, starting with this value.
        case reconnect(authorization: String)
    }

    typealias Completion = (Outcome) -> Void

    /// What one connection goes to and through.
    struct Route {
        var proxy: ProxySettings?
        var target: HostPort
        var tls: (context: NIOSSLContext, host: String)?
        var timeout: TimeAmount
        var webSocket: WebSocketFrameBridge.Options = .init()
        /// Through a proxy: its authentication exchange for this connection.
        var authenticator: (any ProxyAuthenticator)?
        /// A reconnect after a 407 that closed: the value to start with (the authenticator is not asked).
        var resumeWith: String?
        /// The tunnel's request serialized once (only the key and the id are added here).
        var requestBytes: RequestBytes?
    }

    private var machine: ClientHandshakeStateMachine
    private let route: Route
    private let handOver: RelayHandOver
    private var request: UpgradeRequest?
    private var earlyData: EarlyDataPlan?
    /// The app connection's bytes being sent before the 101 (early data), until the 101 or a failure.
    private var forwarding: RelayHandOver.EarlyForwarding?
    private var timer: Scheduled<Void>?
    private var completion: Completion?
    /// A pooled connection: told when the server closes it while it is idle.
    private var lost: ((String) -> Void)?
    private var context: ChannelHandlerContext?

    /// A connection for `request`, or (nil) a pooled one that waits for `claim`.
    init(
        route: Route, request: UpgradeRequest?, handOver: RelayHandOver, earlyData: EarlyDataPlan? = nil,
        lost: ((String) -> Void)? = nil, completion: @escaping Completion
    ) {
        let settings = ClientHandshakeStateMachine.Settings(
            proxy: route.proxy?.endpoint.description, tls: route.tls != nil,
            pooled: request == nil, reconnected: route.resumeWith != nil, timeoutSeconds: route.timeout.nanoseconds / 1_000_000_000,
            knownAnswer: route.requestBytes?.knownAnswer)
        self.machine = ClientHandshakeStateMachine(
            settings: settings, expectation: request.map(ClientHandshakeStateMachine.Expectation.init))
        self.route = route
        self.request = request
        self.handOver = handOver
        self.earlyData = earlyData
        self.lost = lost
        self.completion = completion
    }

    /// The handlers a server connection starts with (TLS straight to the server is added in front first).
    static func install(on channel: any Channel, makeHandler: (RelayHandOver) -> ClientHandshakeHandler) throws {
        try RelayHandOver.install(on: channel, handshake: makeHandler)
    }

    /// Sends `request` on this pooled connection and reports as an unpooled one would. On its loop.
    func claim(request: UpgradeRequest, earlyData: EarlyDataPlan?, completion: @escaping Completion) {
        let action = machine.claim(.init(request))
        if case .rejectClaim(let failure) = action {
            completion(.failed(failure))
            return
        }
        self.request = request
        self.earlyData = earlyData
        self.completion = completion
        self.lost = nil
        if let context { startTimer(context) }
        perform(action)
    }

    /// The pool retires this connection (waited its refresh interval, or the pool closes). On its loop.
    func retire() {
        perform(machine.retire())
    }

    // MARK: Actions

    private func perform(_ action: ClientHandshakeStateMachine.Action) {
        guard let context else { return }
        switch action {
        case .none:
            break
        case .sendConnect(let authorization):
            guard let proxy = route.proxy, let text = proxy.connectRequest(to: route.target, authorization: authorization) else {
                perform(machine.authenticationFailed("the authenticator's value cannot be sent"))
                return
            }
            context.writeAndFlush(wrapOutboundOut(context.channel.allocator.buffer(string: text)), promise: nil)
        case .authenticate(let challenges):
            let authenticator = route.authenticator
            do {
                let next = try authenticator?.respond(to: challenges)
                perform(machine.authenticated(next: next, scheme: authenticator?.scheme))
            } catch {
                perform(machine.authenticationFailed("\(error)"))
            }
        case .proxyAccepted(let challenges, let behind):
            do {
                try route.authenticator?.accepted(with: challenges)
            } catch {
                perform(machine.authenticationFailed("\(error)"))
                return
            }
            perform(machine.tunnelUp())
            // What came behind the proxy's yes is the server's: read again from the head (through TLS).
            if behind.readableBytes > 0, context.channel.isActive { context.pipeline.fireChannelRead(NIOAny(behind)) }
        case .startTLS(let sendUpgrade):
            guard let tls = route.tls else { return }
            do {
                // TLS to the server starts inside the proxy's tunnel, in front of everything else.
                let handler = try ClientTLS.makeHandler(context: tls.context, host: tls.host, port: route.target.port)
                try context.pipeline.syncOperations.addHandler(handler, position: .first)
                try context.pipeline.syncOperations.addHandler(ProxyHalfCloseHandler(), position: .first)
            } catch {
                perform(machine.failed(.local, "cannot start TLS with \(tls.host): \(error)"))
                return
            }
            if sendUpgrade { self.sendUpgrade(context) }
        case .sendUpgrade:
            sendUpgrade(context)
        case .ready:
            timer?.cancel()
            report(.upgraded)
        case .handOver(let framed, let earlyData, let behind):
            finish()
            self.earlyData?.learned(earlyData)
            let completion = self.completion
            self.completion = nil
            let webSocket = framed ? RelayHandOver.WebSocket(role: .client, options: route.webSocket) : nil
            handOver.complete(from: context, leftovers: behind, webSocket: webSocket) { result in
                switch result {
                case .success:
                    completion?(.upgraded)
                case .failure(let error):
                    context.close(promise: nil)
                    completion?(.failed(HandshakeFailure(kind: .local, "cannot start WebSocket framing: \(error)")))
                }
            }
        case .fail(let failure):
            finish()
            context.close(promise: nil)
            report(.failed(failure))
        case .reconnect(let authorization):
            finish()
            context.close(promise: nil)
            report(.reconnect(authorization: authorization))
        case .lost(let words):
            finish()
            context.close(promise: nil)
            let lost = self.lost
            self.lost = nil
            lost?(words)
        case .rejectClaim:
            break  // answered in `claim`
        case .close:
            finish()
            // Half-closure off first: with it on, swift-nio-ssl (2.37) in its closing state neither finishes on
            // the server's close_notify nor on its FIN, and holds the connection for its 5 s shutdown timeout.
            try? context.channel.syncOptions?.setOption(ChannelOptions.allowRemoteHalfClosure, value: false)
            context.close(promise: nil)
        }
    }

    private func report(_ outcome: Outcome) {
        let completion = self.completion
        self.completion = nil
        completion?(outcome)
    }

    private func finish() {
        timer?.cancel()
        forwarding?.stop()
        forwarding = nil
    }

    private func startTimer(_ context: ChannelHandlerContext) {
        timer?.cancel()
        timer = context.eventLoop.assumeIsolated().scheduleTask(in: route.timeout) {
            self.perform(self.machine.timedOut())
        }
    }

    /// The upgrade request, and right behind it the app's bytes as they come when this server keeps them:
    /// the answer to them can then come back with the 101 instead of one round trip after it.
    private func sendUpgrade(_ context: ChannelHandlerContext) {
        guard let request else { return }
        let head: ByteBuffer
        do {
            if let prepared = route.requestBytes {
                // The template was checked once; the id is this connection's own.
                if let id = request.connectionID { try HeadValidation.checkField(name: PurrWire.Header.purrConnection, value: id) }
                head = prepared.bytes(for: request, allocator: context.channel.allocator)
            } else {
                try request.validate()
                head = context.channel.allocator.buffer(string: request.encoded())
            }
        } catch {
            perform(machine.failed(.local, "cannot send the request: \(error)"))
            return
        }
        guard let plan = earlyData, plan.send else {
            context.writeAndFlush(wrapOutboundOut(head), promise: nil)
            return
        }
        // The head and the bytes already held leave in one write (one segment for the server to read).
        context.write(wrapOutboundOut(head), promise: nil)
        plan.local.eventLoop.preconditionInEventLoop()
        forwarding = RelayHandOver.forwardEarlyBytes(of: plan.local, upTo: EarlyDataPlan.limit) { bytes in
            plan.counter.add(bytes.readableBytes)
            context.writeAndFlush(self.wrapOutboundOut(bytes), promise: nil)
        }
        context.flush()
    }

    // MARK: Events

    func handlerAdded(context: ChannelHandlerContext) {
        self.context = context
    }

    func handlerRemoved(context: ChannelHandlerContext) {
        self.context = nil
    }

    func channelActive(context: ChannelHandlerContext) {
        startTimer(context)
        var authorization: String?
        if route.proxy != nil {
            if let resume = route.resumeWith {
                authorization = resume
            } else {
                do {
                    authorization = try route.authenticator?.initialAuthorization()
                } catch {
                    perform(machine.authenticationFailed("\(error)"))
                    context.fireChannelActive()
                    return
                }
            }
        }
        perform(machine.connected(authorization: authorization))
        context.fireChannelActive()
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        perform(machine.read(unwrapInboundIn(data)))
    }

    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        if let event = event as? ChannelEvent, case .inputClosed = event {
            perform(machine.closed())
        } else if case .handshakeCompleted = event as? TLSUserEvent {
            perform(machine.tlsHandshakeCompleted())
        }
        context.fireUserInboundEventTriggered(event)
    }

    func channelInactive(context: ChannelHandlerContext) {
        perform(machine.closed())
        context.fireChannelInactive()
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        if let tls = route.tls, let words = ClientTLS.describe(error, host: tls.host) {
            perform(machine.failed(.tls, words))
        } else {
            perform(machine.failed(.connect, "server connection failed: \(ConnectFailure.describe(error))"))
        }
    }
}
