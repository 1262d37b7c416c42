import Foundation
import Logging
import NIOCore
import NIOPosix
import PurrCore

/// Turns one accepted connection into a relay: reads the request head, routes it, checks the token,
/// connects to the target, answers 101 and hands both channels to the glue. Any failure is answered
/// with one plain-text line, counted and logged.
final class UpgradeHandler {
    typealias InboundIn = ByteBuffer
    typealias OutboundOut = ByteBuffer

    enum State {
        case readingHead(HTTPHeadParser)
        /// Waiting for the target; bytes the client sent after the head are kept for it.
        case connecting(pending: ByteBuffer, inputClosed: Bool)
        /// An error answer is on its way; whatever the client still sends is discarded.
        case refusing
        /// Handed over to the relay, or the client went away.
        case done
    }

    private var state: State
    private let env: ServerEnvironment
    private var record: ConnectionRecord?
    private var headerTimer: Scheduled<Void>?

    init(env: ServerEnvironment) {
        self.env = env
        self.state = .readingHead(HTTPHeadParser(kind: .request, limit: env.maxHeadSize))
    }

    private var logger: Logger {
        var logger = env.logger
        if let record {
            logger[metadataKey: "conn"] = "\(record.id)"
            logger[metadataKey: "peer"] = "\(record.peer)"
            if let route = record.route { logger[metadataKey: "route"] = "\(route)" }
        }
        return logger
    }

    private func handleHead(_ head: HTTPHead, remainder: ByteBuffer, context: ChannelHandlerContext) {
        let request: UpgradeRequest
        do {
            request = try UpgradeRequest(validating: head)
        } catch {
            refuse(context, status: 404, "Not Found", message: error.description, failure: .notPurr)
            return
        }
        guard let route = env.routes.match(path: request.routePath, host: head.value(of: PurrWire.Header.host)) else {
            let message =
                env.routes.isEmpty
                ? "no routes are configured on this server"
                : "no route for \(HTTPHeadParser.printable(request.routePath))"
            refuse(context, status: 404, "Not Found", message: message, failure: .noRoute)
            return
        }
        let routeActive = record.map { env.registry.routed($0, to: route) } ?? 0
        // The client's connection id (Purr-Connection), for viewers that join both ends.
        if let record, let id = head.value(of: PurrWire.Header.purrConnection) { env.registry.identified(record, clientID: id) }
        if let limit = route.maxConnections, routeActive > limit {
            refuse(
                context, status: 503, "Service Unavailable", message: "route \(route.path) is at its limit of \(limit) connections",
                failure: .overLimit)
            return
        }
        if let expected = route.token {
            guard let presented = request.token else {
                refuse(
                    context, status: 401, "Unauthorized", message: "route \(route.path) needs a token (Authorization: Bearer TOKEN)",
                    failure: .unauthorized)
                return
            }
            guard ConstantTime.equals(presented, expected) else {
                refuse(context, status: 401, "Unauthorized", message: "wrong token for route \(route.path)", failure: .unauthorized)
                return
            }
        }
        state = .connecting(pending: remainder, inputClosed: false)
        // Hold the client's bytes while the target connects; the relay turns reading back on.
        try? context.channel.syncOptions?.setOption(ChannelOptions.autoRead, value: false)
        connect(to: route, upgrade: request.upgrade, context: context)
    }

    private func connect(to route: Route, upgrade: UpgradeProtocol, context: ChannelHandlerContext) {
        let target = route.target
        ClientBootstrap(group: context.eventLoop)
            .channelOption(ChannelOptions.autoRead, value: false)
            .channelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    try SocketTuning.apply(to: channel)
                    try channel.pipeline.syncOperations.addHandler(ReadAheadHandler())
                }
            }
            .connectTimeout(env.connectTimeout)
            .connect(to: target)
            .assumeIsolated()
            .whenComplete { result in
                switch result {
                case .success(let targetChannel):
                    self.targetConnected(targetChannel, upgrade: upgrade, context: context)
                case .failure(let error):
                    guard case .connecting = self.state else { return }
                    let reason = "\(ConnectFailure.describe(error)) to \(target)"
                    self.refuse(context, status: 502, "Bad Gateway", message: reason, failure: .targetUnreachable)
                }
            }
    }

    private func targetConnected(_ target: Channel, upgrade: UpgradeProtocol, context: ChannelHandlerContext) {
        guard case .connecting(let pending, let inputClosed) = state, context.channel.isActive, let record else {
            // The client left while we were connecting.
            target.close(promise: nil)
            return
        }
        state = .done
        let client = context.channel
        // Counted as relaying before the 101 leaves: a client that reads the 101 and then asks for stats
        // must see it so (the write reaches the kernel at once).
        env.registry.attach(record, client: client, target: target)  // per-hop TCP_INFO in /stats
        env.registry.relaying(record)
        // The 101 goes out alone, before any target bytes: the original client reads it with one small read.
        context.writeAndFlush(NIOAny(ByteBuffer(string: UpgradeResponse.switching(upgrade))), promise: nil)
        context.pipeline.syncOperations.removeHandler(context: context, promise: nil)
        let firstError = FirstError()
        do {
            if let idle = env.idleTimeout {
                let seconds = Double(idle.nanoseconds) / 1e9
                try client.pipeline.syncOperations.addHandler(IdleStateHandler(allTimeout: idle))
                try client.pipeline.syncOperations.addHandler(IdleCloseHandler { firstError.idle = "idle for \(seconds.formatted()) s" })
            }
            try Relay.join(
                client,
                target,
                aCounter: record.bytesIn,
                bCounter: record.bytesOut,
                pendingForB: pending,
                aInputClosed: inputClosed,
                errorSink: { firstError.record($0) }
            )
        } catch {
            client.close(promise: nil)
            target.close(promise: nil)
        }
        let logger = self.logger
        logger.info("open", metadata: ["target": "\(target.remoteAddress.map(Self.describe) ?? "?")"])
        let registry = env.registry
        client.closeFuture.and(target.closeFuture).assumeIsolated().whenComplete { _ in
            let failure: FailureReason? = firstError.error == nil ? nil : .relayError
            let detail = firstError.error.map { "relay error: \(ConnectFailure.describe($0))" } ?? firstError.idle ?? "closed"
            registry.finish(record, failure: failure, detail: detail)
            Self.logClose(logger, record: record, detail: detail)
        }
    }

    /// Answers with an error line, counts it, and closes once the client stops sending (or after a linger).
    private func refuse(
        _ context: ChannelHandlerContext,
        status: Int,
        _ reasonPhrase: String,
        message: String,
        failure: FailureReason
    ) {
        state = .refusing
        headerTimer?.cancel()
        try? context.channel.syncOptions?.setOption(ChannelOptions.autoRead, value: true)
        if let record {
            env.registry.finish(record, failure: failure, detail: "\(status) \(message)")
            logger.notice("refused", metadata: ["status": "\(status)", "reason": "\(message)"])
        }
        let response = UpgradeResponse.error(status: status, reason: reasonPhrase, message: message)
        context.writeAndFlush(NIOAny(ByteBuffer(string: response))).assumeIsolated().whenComplete { _ in
            context.close(mode: .output, promise: nil)
        }
        context.eventLoop.assumeIsolated().scheduleTask(in: env.lingerTimeout) {
            context.close(promise: nil)
        }
    }

    private func clientGone(_ context: ChannelHandlerContext, _ detail: String) {
        headerTimer?.cancel()
        state = .done
        if let record {
            env.registry.finish(record, failure: .clientGone, detail: detail)
            logger.info("client gone", metadata: ["reason": "\(detail)"])
        }
        context.close(promise: nil)
    }

    static func logClose(_ logger: Logger, record: ConnectionRecord, detail: String) {
        let seconds = Date().timeIntervalSince(record.started)
        logger.info(
            "close",
            metadata: [
                "in": "\(record.bytesIn.total)",
                "out": "\(record.bytesOut.total)",
                "duration": "\(String(format: "%.3f", seconds))s",
                "reason": "\(detail)",
            ]
        )
    }

    static func describe(_ address: SocketAddress) -> String {
        guard let ip = address.ipAddress, let port = address.port else { return "\(address)" }
        return HostPort(host: ip, port: port).description
    }
}

extension UpgradeHandler: ChannelInboundHandler, RemovableChannelHandler {
    func channelActive(context: ChannelHandlerContext) {
        let peer = context.channel.remoteAddress.map(Self.describe) ?? "?"
        record = env.registry.open(peer: peer)
        if env.registry.activeCount > env.maxConnections {
            refuse(
                context, status: 503, "Service Unavailable", message: "server is at its limit of \(env.maxConnections) connections",
                failure: .overLimit)
            context.fireChannelActive()
            return
        }
        headerTimer = context.eventLoop.assumeIsolated().scheduleTask(in: env.headerTimeout) {
            guard case .readingHead = self.state else { return }
            let seconds = Double(self.env.headerTimeout.nanoseconds) / 1e9
            self.refuse(
                context, status: 408, "Request Timeout",
                message: "no complete request head within \(seconds.formatted()) s", failure: .headerTimeout)
        }
        context.fireChannelActive()
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        var bytes = Self.unwrapInboundIn(data)
        switch state {
        case .readingHead(var parser):
            state = .done  // avoid a copy-on-write of the parser's buffer while it is mutated
            do {
                switch try parser.feed(&bytes) {
                case .needMore:
                    state = .readingHead(parser)
                case .complete(let head, let remainder):
                    headerTimer?.cancel()
                    handleHead(head, remainder: remainder, context: context)
                }
            } catch {
                switch error {
                case .tooLarge:
                    refuse(context, status: 431, "Request Header Fields Too Large", message: error.description, failure: .headTooLarge)
                case .malformed(let why):
                    refuse(context, status: 400, "Bad Request", message: "malformed request: \(why)", failure: .badRequest)
                }
            }
        case .connecting(var pending, let inputClosed):
            state = .done
            pending.writeBuffer(&bytes)
            state = .connecting(pending: pending, inputClosed: inputClosed)
        case .refusing, .done:
            break
        }
    }

    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        if let event = event as? ChannelEvent, case .inputClosed = event {
            switch state {
            case .readingHead:
                clientGone(context, "client closed before finishing its request head")
            case .connecting(let pending, _):
                state = .connecting(pending: pending, inputClosed: true)
            case .refusing:
                context.close(promise: nil)
            case .done:
                break
            }
            return
        }
        context.fireUserInboundEventTriggered(event)
    }

    func channelInactive(context: ChannelHandlerContext) {
        switch state {
        case .readingHead:
            clientGone(context, "client disconnected before finishing its request head")
        case .connecting:
            clientGone(context, "client disconnected while the target was connecting")
        case .refusing, .done:
            headerTimer?.cancel()
        }
        context.fireChannelInactive()
    }

    func errorCaught(context: ChannelHandlerContext, error: Error) {
        switch state {
        case .readingHead, .connecting:
            clientGone(context, "client error: \(ConnectFailure.describe(error))")
        case .refusing, .done:
            context.close(promise: nil)
        }
    }
}

/// The first error either side of a relay reported; read once both sides are closed.
final class FirstError {
    private(set) var error: Error?
    /// Set when the idle timeout closed the relay (a normal end, not a failure).
    var idle: String?

    func record(_ error: Error) {
        if self.error == nil { self.error = error }
    }
}
