import Foundation
import Logging
import NIOCore
import NIOHTTP1
import NIOPosix
import PurrCore

/// Carries out the `UpgradeStateMachine`'s actions for one accepted connection: the request head comes
/// from NIOHTTP1's decoder, the target is connected before any answer, and a 101 hands both channels to a
/// `RelaySession`. Any failure is answered with one plain-text line, counted and logged.
///
/// Pipeline while the head is read: [TLS] and `RelayHandOver`'s: the gate, the HTTP decoder, this, the holder.
final class UpgradeHandler {
    typealias InboundIn = HTTPServerRequestPart
    typealias OutboundOut = ByteBuffer

    private var machine = UpgradeStateMachine()
    private let env: ServerSettings
    private let handOver: RelayHandOver
    private var record: ConnectionRecord?
    private var headerTimer: Scheduled<Void>?
    /// A dynamic route's source at work, and its deadline (issue #16).
    private var lookup: (running: TargetLookup, deadline: Scheduled<Void>)?
    /// The first bytes came in this read: the header timer starts at its end unless the head is complete.
    private var headerTimerDue = false
    /// The client sent at least one byte (a pooled connection that never did is `unused` when it closes).
    private var spoke = false
    /// The peer address this connection is counted under until it relays or closes (`PeerLimiter`).
    private var countedPeer: String?

    init(env: ServerSettings, handOver: RelayHandOver) {
        self.env = env
        self.handOver = handOver
    }

    /// Builds the generic handler types once, on one thread, before any connection does: the first
    /// burst of connections otherwise instantiates their metadata on every event loop at once, and the
    /// Swift runtime crashed doing so once (a null dereference in `swift_checkMetadataState`, seen in
    /// `testServerOutOfFileDescriptorsDuringABurst`).
    static func prepareTypes() {
        _ = ByteToMessageHandler(HTTPRequestDecoder(leftOverBytesStrategy: .forwardBytes))
    }

    /// The handlers one accepted connection starts with, in order.
    static func install(on channel: any Channel, env: ServerSettings) throws {
        try RelayHandOver.install(
            on: channel, headLimit: env.maxHeadSize, decoder: ByteToMessageHandler(HTTPRequestDecoder(leftOverBytesStrategy: .forwardBytes))
        ) { handOver in UpgradeHandler(env: env, handOver: handOver) }
    }

    private var logger: Logger { Self.logger(env.logger, record: record) }

    /// Relaying or closed: no longer counted against the peer's limit.
    private func leavePeerCount() {
        guard let peer = countedPeer else { return }
        countedPeer = nil
        env.peers.leave(peer)
    }

    /// `base` with the connection's metadata, formatted only when a line of this handler's levels
    /// (notice and below) would be written: at `warning` a connection formats nothing.
    static func logger(_ base: Logger, record: ConnectionRecord?) -> Logger {
        var logger = base
        if let record, base.logLevel <= .notice {
            logger[metadataKey: "conn"] = "\(record.id)"
            logger[metadataKey: "peer"] = "\(record.peer)"
            if let route = record.route { logger[metadataKey: "route"] = "\(route)" }
            if record.state != .readingHead, let target = record.target { logger[metadataKey: "target"] = "\(target)" }
            if let transport = record.transport { logger[metadataKey: "transport"] = "\(transport.rawValue)" }
        }
        return logger
    }

    private func perform(_ action: UpgradeStateMachine.Action, context: ChannelHandlerContext) {
        switch action {
        case .none:
            break
        case .refuse(let refusal):
            refuse(refusal, context: context)
        case .answer(let answer):
            // A health check is no connection: not in the counts, the stream or the log.
            if let record { env.registry.forget(record) }
            record = nil
            reply(answer.response, context: context)
        case .lookup(let route, let question):
            lookUp(route, question, context: context)
        case .connect(let target):
            connect(to: target, context: context)
        case .hold(let hold):
            hold.wait(client: context.channel) { published in
                self.perform(self.machine.targetConnected(published, clientActive: context.channel.isActive), context: context)
            }
        case .upgrade(let target, let request):
            handOver(to: target, request, context: context)
        case .closeTarget(let target):
            target.close(promise: nil)
        case .clientGone(let detail, let target):
            headerTimer?.cancel()
            cancelLookup()
            target?.close(promise: nil)
            if let record {
                if spoke {
                    env.registry.finish(record, failure: .clientGone, detail: detail)
                    logger.info("client gone", metadata: ["reason": "\(detail)"])
                } else {
                    env.registry.finish(record, failure: .unused, detail: "closed without sending anything")
                    logger.debug("closed unused")
                }
            }
            context.close(promise: nil)
        case .silentClose(let seconds):
            headerTimer?.cancel()
            if let record {
                env.registry.finish(record, failure: .silentTimeout, detail: "sent nothing within \(seconds.formatted()) s")
                logger.info("closed silent connection", metadata: ["after": "\(seconds.formatted())s"])
            }
            context.close(promise: nil)
        case .close:
            context.close(promise: nil)
        }
    }

    /// Asks the route's source for the target, off the event loop. Its answer (checked against the
    /// allow list), its refusal, or the deadline (the header timeout again) comes back through the machine.
    private func lookUp(_ route: Route, _ question: TargetRequest, context: ChannelHandlerContext) {
        guard case .source(let source, _) = route.target else { return }
        // Hold the client's bytes meanwhile, as while connecting.
        try? context.channel.syncOptions?.setOption(ChannelOptions.autoRead, value: false)
        let running = TargetLookup(source, question, on: context.eventLoop)
        let deadline = context.eventLoop.assumeIsolated().scheduleTask(in: env.headerTimeout) {
            let refusal = Refusal.lookupTimeout(route: route.path, seconds: Double(self.env.headerTimeout.nanoseconds) / 1e9)
            self.perform(self.machine.lookupTimedOut(refusal), context: context)
            self.cancelLookup()
        }
        lookup = (running, deadline)
        running.answer.assumeIsolated().whenSuccess { answer in
            // nil: cancelled (timed out, or the client left); the machine has moved on already.
            guard let answer, case .choosing = self.machine.state else { return }
            self.cancelLookup()
            switch answer {
            case .success(let target):
                if let refusal = route.admit(target) {
                    self.perform(self.machine.targetRefused(Refusal(refusal)), context: context)
                    return
                }
                if let record = self.record { self.env.registry.chose(record, target: target) }
                self.perform(self.machine.targetChosen(target), context: context)
            case .failure(let refusal):
                self.perform(self.machine.targetRefused(Refusal(refusal)), context: context)
            }
        }
    }

    private func cancelLookup() {
        lookup?.deadline.cancel()
        lookup?.running.cancel()
        lookup = nil
    }

    private func connect(to target: HostPort, context: ChannelHandlerContext) {
        // The client's bytes may keep coming while the target connects: the decoder holds them, and the
        // gate stops reading past `RelayHandOver.holdLimit` (cheaper than turning reading off and on).
        ClientBootstrap(group: context.eventLoop)
            .channelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    // Reading stays on: what the target says before the 101 (a banner) waits at its tail,
                    // which stops reading past its limit (`RelayHandOver`).
                    try SocketTuning.apply(to: channel)
                    try RelayHandOver.holdEarlyBytes(on: channel)
                }
            }
            .connectTimeout(env.connectTimeout)
            .connect(to: target)
            .assumeIsolated()
            .whenComplete { result in
                switch result {
                case .success(let channel):
                    self.perform(self.machine.targetConnected(channel, clientActive: context.channel.isActive), context: context)
                case .failure(let error):
                    self.perform(self.machine.targetFailed("\(ConnectFailure.describe(error)) to \(target)"), context: context)
                }
            }
    }

    /// Writes the 101, hands the channel over (`RelayHandOver`: the bytes the client sent behind its head
    /// wait at the tail, decoded as frames for a WebSocket), then starts the relay.
    private func handOver(to target: any Channel, _ request: UpgradeRequest, context: ChannelHandlerContext) {
        let upgrade = AcceptedUpgrade(request)
        guard let record else { return }
        leavePeerCount()
        let client = context.channel
        let registry = env.registry
        // Counted as relaying before the 101 leaves: a client that reads the 101 and then asks for stats
        // must see it so (the write reaches the kernel at once).
        registry.attach(record, client: client, target: target)  // per-hop TCP_INFO in /stats
        registry.relaying(record, transport: upgrade.transport)
        // The 101 goes out alone, before any target bytes: the original client reads it with one small read.
        context.writeAndFlush(wrapOutboundOut(upgrade.responseBytes), promise: nil)
        // Frames from here on; the bytes behind the request head are decoded as frames too.
        var webSocket: RelayHandOver.WebSocket?
        if case .websocket = upgrade {
            webSocket = RelayHandOver.WebSocket(role: .server, options: WebSocketFrameBridge.Options(maxMessage: env.webSocketMaxMessage))
        }
        let base = env.logger
        let session = RelaySession(client, target, aCounter: record.bytesIn, bCounter: record.bytesOut, idleTimeout: env.idleTimeout)
        handOver.complete(from: context, webSocket: webSocket) { result in
            guard case .success = result else {
                target.close(promise: nil)
                client.close(promise: nil)
                return
            }
            let logger = Self.logger(base, record: record)
            // `target` (the chosen HOST:PORT) is in the logger's metadata; the address only when it says more.
            logger.info("open", metadata: Self.addressMetadata(target, record: record))
            session.start().assumeIsolated().whenSuccess { reason in
                registry.finish(record, failure: reason.isFailure ? .relayError : nil, detail: reason.description)
                Self.logClose(Self.logger(base, record: record), record: record, reason: reason)
            }
        }
    }

    /// Answers with an error line, counts it, and closes once the client stops sending (or after a linger).
    private func refuse(_ refusal: Refusal, context: ChannelHandlerContext) {
        if let record {
            env.registry.finish(record, failure: refusal.failure, detail: "\(refusal.status) \(refusal.message)")
            logger.notice("refused", metadata: ["status": "\(refusal.status)", "reason": "\(refusal.message)"])
        }
        reply(refusal.response, context: context)
    }

    /// Writes a last answer, then closes once the client stops sending (or after a linger).
    private func reply(_ response: String, context: ChannelHandlerContext) {
        headerTimer?.cancel()
        handOver.refused()
        // What is read now is dropped: small reads, so a flood does not grow the read buffer to the
        // relay's 1 MiB on every refused connection.
        try? context.channel.syncOptions?.setOption(
            ChannelOptions.recvAllocator, value: FixedSizeRecvByteBufferAllocator(capacity: 16 * 1024))
        try? context.channel.syncOptions?.setOption(ChannelOptions.autoRead, value: true)
        context.writeAndFlush(wrapOutboundOut(ByteBuffer(string: response))).assumeIsolated().whenComplete { _ in
            context.close(mode: .output, promise: nil)
        }
        context.eventLoop.assumeIsolated().scheduleTask(in: env.lingerTimeout) {
            context.close(promise: nil)
        }
    }

    /// The target's address, when it says more than the chosen HOST:PORT.
    private static func addressMetadata(_ target: any Channel, record: ConnectionRecord) -> Logger.Metadata {
        let address = target.remoteAddress?.hostPortDescription ?? "?"
        return address == record.target ? [:] : ["address": "\(address)"]
    }

    static func logClose(_ logger: Logger, record: ConnectionRecord, reason: CloseReason) {
        logger.info(
            "close",
            metadata: [
                "in": "\(record.bytesIn.total)",
                "out": "\(record.bytesOut.total)",
                "duration": "\(Date().timeIntervalSince(record.started).threeDecimals)s",
                "reason": "\(reason)",
            ]
        )
    }
}

extension UpgradeHandler: ChannelInboundHandler, RemovableChannelHandler {
    func channelActive(context: ChannelHandlerContext) {
        // The channel: for a reload with --drop-removed.
        // The address is rendered once (inet_ntop formats with sprintf).
        let remote = context.channel.remoteAddress
        let peer = remote?.ipAddress ?? "?"
        let peerAndPort = remote?.port.map { HostPort(host: peer, port: $0).description } ?? remote.map { "\($0)" } ?? "?"
        record = env.registry.open(peer: peerAndPort, channel: context.channel)
        countedPeer = peer
        let fromPeer = env.peers.enter(peer)
        if env.registry.activeCount > env.maxConnections {
            perform(machine.overLimit(env.maxConnections), context: context)
        } else if env.maxConnectionsPerPeer > 0, fromPeer > env.maxConnectionsPerPeer {
            perform(machine.overPeerLimit(env.maxConnectionsPerPeer), context: context)
        } else {
            // A connection that has sent nothing (a client's warm pool) waits up to the silent timeout;
            // the head must then be complete within the header timeout of its first byte.
            headerTimer = context.eventLoop.assumeIsolated().scheduleTask(in: env.silentTimeout) {
                let seconds = Double(self.env.silentTimeout.nanoseconds) / 1e9
                self.perform(self.machine.silentTimedOut(seconds: seconds), context: context)
            }
            handOver.onFirstBytes = {
                self.spoke = true
                self.headerTimer?.cancel()
                self.headerTimer = nil
                // Armed at the end of this read, unless the head came whole with it (nearly always): a
                // timer less per connection.
                self.headerTimerDue = true
            }
        }
        context.fireChannelActive()
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        switch Self.unwrapInboundIn(data) {
        case .head(let head):
            headerTimer?.cancel()
            headerTimerDue = false
            // The client's connection id (Purr-Connection), for viewers that join both ends.
            if let record, let id = head.value(of: PurrWire.Header.purrConnection) { env.registry.identified(record, clientID: id) }
            let decision = env.admit(head, record: record, peer: context.channel.remoteAddress)  // cached: no getpeername
            if case .accept = decision { handOver.headAccepted() }
            // The head is in: what is left (a target's connect, a held request for a published connection,
            // a health answer) is this server's wait, not the peer's, and the server-wide limit bounds it.
            // Behind a load balancer every user shares one address: counting those waits let a slow
            // target's upgrades refuse everyone, `/healthz` included. A reverse registration stays
            // counted while it is held: that is its peer's doing.
            if case .accept(_, _, .held) = decision {} else { leavePeerCount() }
            perform(machine.receivedHead(decision), context: context)
        case .body:
            break
        case .end:
            perform(machine.receivedEnd(), context: context)
        }
    }

    func channelReadComplete(context: ChannelHandlerContext) {
        if headerTimerDue {
            // The first bytes came, the head is not complete: it must be within the header timeout.
            headerTimerDue = false
            if case .readingHead = machine.state {
                headerTimer = context.eventLoop.assumeIsolated().scheduleTask(in: env.headerTimeout) {
                    let seconds = Double(self.env.headerTimeout.nanoseconds) / 1e9
                    self.perform(self.machine.headerTimedOut(seconds: seconds), context: context)
                }
            }
        }
        context.fireChannelReadComplete()
    }

    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        if let event = event as? ChannelEvent, case .inputClosed = event {
            perform(machine.inputClosed(), context: context)
            return
        }
        context.fireUserInboundEventTriggered(event)
    }

    func channelInactive(context: ChannelHandlerContext) {
        leavePeerCount()
        headerTimer?.cancel()
        handOver.onFirstBytes = nil  // it holds this handler
        perform(machine.channelInactive(), context: context)
        context.fireChannelInactive()
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        perform(machine.errorCaught(error), context: context)
    }
}
