import NIOCore
import NIOHTTP1
import PurrCore

/// The client's side of one server connection, from TCP up to the relay, as a state machine in NIO's
/// style (`NIOTypedHTTPClientUpgraderStateMachine`): each input returns the action the handler must carry
/// out, and the machine holds no channel. Bytes come in raw (after TLS); every head and body is read here.
///
/// The path: [proxy CONNECT, its 407 rounds on the same connection or once more on a new one] [TLS after
/// the proxy] [a pooled connection waits, idle, until it is claimed] the upgrade request, then the 101
/// (checked: original Purr, WebSocket accept value, no extension we did not offer) and the hand-over, or
/// a refusal with the first line of its body.
struct ClientHandshakeStateMachine {
    /// What one connection was set up to do (fixed for its life).
    struct Settings: Equatable {
        /// The proxy's endpoint for error lines; nil: straight to the server.
        var proxy: String?
        /// TLS to the server: added once the proxy's tunnel is up (directly, it is there from the start).
        var tls: Bool
        /// A warm pool's connection: no request until `claim`.
        var pooled: Bool
        /// This connection is the one new try after a 407 that closed its connection.
        var reconnected = false
        var headLimit = PurrWire.maxHeadSize
        /// The handshake timeout, for its error line.
        var timeoutSeconds: Int64 = 15
        /// The tunnel's last accepted original-Purr 101: the same bytes again are taken without reading.
        var knownAnswer: KnownAnswer?

        static func == (lhs: Settings, rhs: Settings) -> Bool {
            lhs.proxy == rhs.proxy && lhs.tls == rhs.tls && lhs.pooled == rhs.pooled && lhs.reconnected == rhs.reconnected
                && lhs.headLimit == rhs.headLimit && lhs.timeoutSeconds == rhs.timeoutSeconds && lhs.knownAnswer === rhs.knownAnswer
        }
    }

    /// What the 101 must match: from the request sent.
    struct Expectation: Equatable {
        var upgrade: UpgradeProtocol
        var webSocketKey: String?

        init(upgrade: UpgradeProtocol, webSocketKey: String? = nil) {
            self.upgrade = upgrade
            self.webSocketKey = webSocketKey
        }

        init(_ request: UpgradeRequest) {
            self.init(upgrade: request.upgrade, webSocketKey: request.webSocketKey)
        }
    }

    /// Bytes of a refusal's body kept for the error line.
    static let refusalBodyLimit = 512
    /// The most of a 407's body read and dropped before the next CONNECT on the same connection.
    static let challengeBodyLimit = 64 * 1024
    /// 407 answers taken on one proxy exchange before giving up.
    static let maxAuthenticationRounds = 4
    static let extensionsHeader = "Sec-WebSocket-Extensions"

    enum State: Equatable {
        /// TCP is not up yet.
        case connecting
        /// CONNECT sent (`round` 407s before it, with `sent` as its authorization); its answer's head is being read.
        case proxyAnswer(ByteBuffer, round: Int, sent: String?)
        /// A 407: the authenticator is asked for its next value (`keepsConnection`: the proxy keeps the
        /// connection for it), while its body is read and dropped.
        case proxyChallenge(BodyReader, round: Int, status: String, keepsConnection: Bool, next: String?)
        /// The proxy said yes: the authenticator checks its answer, then the tunnel is up.
        case proxyAccepted
        /// A pooled connection waits for its TLS handshake.
        case awaitingTLS
        /// A pooled connection is ready and waits for `claim`.
        case idle
        /// The upgrade request is sent; its answer's head is being read.
        case upgradeSent(ByteBuffer, Expectation)
        /// A refusal's body is being read for the error line.
        case readingRefusal(BodyReader, status: Int, reason: String, retryAfter: Int?)
        /// Handed over, failed or closed.
        case done
    }

    enum Action: Equatable {
        case none
        /// Write a CONNECT with this `Proxy-Authorization` value (nil: none).
        case sendConnect(authorization: String?)
        /// A 407: ask the authenticator for its next value (`respond(to:)`) and give it to `authenticated`.
        case authenticate(challenges: [String])
        /// A 2xx: let the authenticator check its `Proxy-Authenticate` values (`accepted(with:)`), then call
        /// `tunnelUp()`; `behind` (the server's first bytes) is read again from the pipeline's head after that.
        case proxyAccepted(challenges: [String], behind: ByteBuffer)
        /// Add TLS in front of everything, then (`sendUpgrade`) write the upgrade request.
        case startTLS(sendUpgrade: Bool)
        /// Write the upgrade request (and early data behind it when the plan says so).
        case sendUpgrade
        /// A pooled connection is ready: report it, stop the timer.
        case ready
        /// A valid 101: hand the channel over to the relay (`framed`: WebSocket frames follow;
        /// `earlyData`: the server keeps bytes sent behind the head; `behind`: the bytes after the 101).
        case handOver(framed: Bool, earlyData: Bool, behind: ByteBuffer)
        /// Close and report the failure.
        case fail(HandshakeFailure)
        /// Close, and try once more on a new connection, starting with this `Proxy-Authorization` value.
        case reconnect(authorization: String)
        /// A pooled connection was closed (or spoken to) by the server while idle: close and tell the pool.
        case lost(String)
        /// `claim` on a connection that is not idle: tell the claimer; nothing else changes.
        case rejectClaim(HandshakeFailure)
        /// Close without a word (a pooled connection retired by its pool).
        case close
    }

    let settings: Settings
    /// The request's expectation when it is known from the start (not pooled).
    private let expectation: Expectation?
    private(set) var state = State.connecting

    init(settings: Settings, expectation: Expectation?) {
        self.settings = settings
        self.expectation = expectation
    }

    // MARK: Inputs

    /// TCP is up. `authorization`: the authenticator's first value (through a proxy).
    mutating func connected(authorization: String?) -> Action {
        guard case .connecting = state else { return .none }
        if settings.proxy != nil {
            state = .proxyAnswer(ByteBuffer(), round: 0, sent: authorization)
            return .sendConnect(authorization: authorization)
        }
        if settings.pooled {
            if settings.tls {
                state = .awaitingTLS
                return .none
            }
            state = .idle
            return .ready
        }
        return upgrade()
    }

    /// Bytes from the connection (decrypted, with TLS).
    mutating func read(_ bytes: ByteBuffer) -> Action {
        switch state {
        case .proxyAnswer(var buffer, let round, let sent):
            var bytes = bytes
            buffer.writeBuffer(&bytes)
            return readProxyAnswer(buffer, round: round, sent: sent)
        case .proxyChallenge(var body, let round, let status, let keeps, let next):
            var bytes = bytes
            do {
                try body.consume(&bytes)
            } catch {
                return fail(.proxy, "proxy \(proxy) sent a 407 body larger than \(Self.challengeBodyLimit) bytes")
            }
            state = .proxyChallenge(body, round: round, status: status, keepsConnection: keeps, next: next)
            guard body.isComplete else { return .none }
            if bytes.readableBytes > 0 { return fail(.proxy, "proxy \(proxy) sent bytes behind its 407") }
            return challengeDone()
        case .idle, .awaitingTLS:
            return lose("the server spoke before the request on a pooled connection")
        case .upgradeSent(var buffer, let expectation):
            var bytes = bytes
            buffer.writeBuffer(&bytes)
            return readUpgradeAnswer(buffer, expectation)
        case .readingRefusal(var body, let status, let reason, let retryAfter):
            var bytes = bytes
            do {
                try body.consume(&bytes)
            } catch {
                return refusalComplete(body, status: status, reason: reason, retryAfter: retryAfter)
            }
            state = .readingRefusal(body, status: status, reason: reason, retryAfter: retryAfter)
            return body.isComplete || body.isFull ? refusalComplete(body, status: status, reason: reason, retryAfter: retryAfter) : .none
        case .connecting, .proxyAccepted, .done:
            return .none
        }
    }

    /// The authenticator's answer to a 407: its next value, or nil when it gives up. `scheme` names it in
    /// the error line.
    mutating func authenticated(next: String?, scheme: String?) -> Action {
        guard case .proxyChallenge(let body, let round, let status, let keeps, nil) = state else { return .none }
        guard let next else { return fail(.proxy, status: status, "proxy \(proxy) refused \(Self.name(scheme)): \(status)") }
        state = .proxyChallenge(body, round: round, status: status, keepsConnection: keeps, next: next)
        if !keeps { return reconnect(next, status: status, scheme: scheme) }
        return body.isComplete ? challengeDone() : .none
    }

    /// The authenticator has no value to give: a local failure (no ticket), or mutual authentication failed.
    mutating func authenticationFailed(_ words: String) -> Action {
        switch state {
        case .proxyChallenge, .proxyAccepted, .connecting, .proxyAnswer:
            return fail(.proxy, "proxy \(proxy): \(words)")
        default:
            return .none
        }
    }

    /// The authenticator accepted the proxy's yes: what comes now is the server's.
    mutating func tunnelUp() -> Action {
        guard case .proxyAccepted = state else { return .none }
        if settings.tls {
            if settings.pooled {
                state = .awaitingTLS
                return .startTLS(sendUpgrade: false)
            }
            _ = upgrade()
            return .startTLS(sendUpgrade: true)
        }
        if settings.pooled {
            state = .idle
            return .ready
        }
        return upgrade()
    }

    /// TLS to the server finished its handshake.
    mutating func tlsHandshakeCompleted() -> Action {
        guard case .awaitingTLS = state else { return .none }
        state = .idle
        return .ready
    }

    /// A pooled connection takes a request.
    mutating func claim(_ expectation: Expectation) -> Action {
        guard case .idle = state else {
            return .rejectClaim(HandshakeFailure(kind: .closed, "the pooled connection to the server closed"))
        }
        state = .upgradeSent(ByteBuffer(), expectation)
        return .sendUpgrade
    }

    /// The pool retires an idle connection (its refresh interval passed, or the pool closes).
    mutating func retire() -> Action {
        switch state {
        case .done:
            return .none
        case .idle, .awaitingTLS, .connecting, .proxyAnswer, .proxyChallenge, .proxyAccepted:
            guard settings.pooled else { return .none }
            state = .done
            return .close
        case .upgradeSent, .readingRefusal:
            return .none
        }
    }

    /// The end of input, or the channel closed.
    mutating func closed() -> Action {
        switch state {
        case .connecting, .upgradeSent:
            return fail(.closed, UpgradeResponseError.closedBeforeResponse.description)
        case .proxyAnswer(let buffer, let round, let sent?) where round > 0 && buffer.readableBytes == 0:
            // Closed before answering a CONNECT on a connection it kept after its 407: that value once more, anew.
            return reconnect(sent, status: "407", scheme: nil)
        case .proxyAnswer, .proxyAccepted:
            return fail(.proxy, "proxy \(proxy) closed the connection before answering")
        case .proxyChallenge(_, _, let status, _, let next):
            guard let next else { return fail(.proxy, status: status, "proxy \(proxy) refused CONNECT: \(status)") }
            return reconnect(next, status: status, scheme: nil)
        case .awaitingTLS:
            return lose("the server closed the pooled connection")
        case .idle:
            return lose("the server closed the pooled connection")
        case .readingRefusal(var body, let status, let reason, let retryAfter):
            body.endOfInput()
            return refusalComplete(body, status: status, reason: reason, retryAfter: retryAfter)
        case .done:
            return .none
        }
    }

    /// The handshake timeout.
    mutating func timedOut() -> Action {
        switch state {
        case .proxyAnswer, .proxyChallenge, .proxyAccepted:
            return fail(.timeout, "proxy \(proxy) did not answer CONNECT within \(settings.timeoutSeconds) s")
        case .connecting, .awaitingTLS, .upgradeSent:
            return fail(.timeout, "server did not answer within \(settings.timeoutSeconds) s")
        case .readingRefusal(let body, let status, let reason, let retryAfter):
            return refusalComplete(body, status: status, reason: reason, retryAfter: retryAfter)
        case .idle, .done:
            return .none
        }
    }

    /// An error on the connection (TLS, the socket), in words; while idle, the pool hears of it.
    mutating func failed(_ kind: HandshakeFailure.Kind, _ words: String) -> Action {
        switch state {
        case .done:
            return .none
        case .idle:
            return lose(words)
        default:
            return fail(kind, words)
        }
    }

    // MARK: Steps

    private var proxy: String { settings.proxy ?? "" }

    private static func name(_ scheme: String?) -> String {
        guard let scheme, scheme != "Basic" else { return "CONNECT" }
        return scheme
    }

    private mutating func upgrade() -> Action {
        guard let expectation else {
            state = .idle
            return .ready
        }
        state = .upgradeSent(ByteBuffer(), expectation)
        return .sendUpgrade
    }

    private mutating func readProxyAnswer(_ buffer: ByteBuffer, round: Int, sent: String?) -> Action {
        var buffer = buffer
        while let lines = ResponseHead.take(from: &buffer) {
            let head: ResponseHead
            do {
                head = try ResponseHead(lines: lines, strict: false)
            } catch {
                guard case .notHTTP(let line) = error else { continue }
                return fail(.proxy, "proxy \(proxy) sent a bad answer to CONNECT: '\(line)'")
            }
            if head.isInformational { continue }
            switch head.code {
            case 200..<300:
                // A CONNECT's 2xx has no body whatever its headers say (RFC 9110 9.3.6): the rest is the tunnel's.
                state = .proxyAccepted
                return .proxyAccepted(challenges: head.values("Proxy-Authenticate"), behind: buffer)
            case 407:
                return challenged(head, round: round, rest: buffer)
            default:
                return fail(.proxy, status: head.status, "proxy \(proxy) refused CONNECT: \(head.status)")
            }
        }
        if buffer.readableBytes > settings.headLimit {
            return fail(.proxy, "proxy \(proxy) sent an answer head larger than \(settings.headLimit) bytes")
        }
        state = .proxyAnswer(buffer, round: round, sent: sent)
        return .none
    }

    private mutating func challenged(_ head: ResponseHead, round: Int, rest: ByteBuffer) -> Action {
        let status = head.status
        guard round + 1 < Self.maxAuthenticationRounds else {
            return fail(.proxy, status: status, "proxy \(proxy) refused CONNECT: \(status) (after \(round + 1) rounds)")
        }
        let framing = head.bodyFraming
        let keeps = head.keepsConnection && framing != .untilClose
        var body = BodyReader(framing: framing, keep: 0, limit: Self.challengeBodyLimit)
        var rest = rest
        if keeps {
            do {
                try body.consume(&rest)
            } catch {
                return fail(.proxy, "proxy \(proxy) sent a 407 body larger than \(Self.challengeBodyLimit) bytes")
            }
            if body.isComplete, rest.readableBytes > 0 { return fail(.proxy, "proxy \(proxy) sent bytes behind its 407") }
        }
        state = .proxyChallenge(body, round: round, status: status, keepsConnection: keeps, next: nil)
        return .authenticate(challenges: head.values("Proxy-Authenticate"))
    }

    /// The 407's body is read and the authenticator answered: the next CONNECT on this connection.
    private mutating func challengeDone() -> Action {
        guard case .proxyChallenge(_, let round, _, true, let next?) = state else { return .none }
        state = .proxyAnswer(ByteBuffer(), round: round + 1, sent: next)
        return .sendConnect(authorization: next)
    }

    private mutating func reconnect(_ next: String, status: String, scheme: String?) -> Action {
        guard !settings.reconnected else {
            return fail(.proxy, status: status, "proxy \(proxy) refused \(Self.name(scheme)): \(status)")
        }
        state = .done
        return .reconnect(authorization: next)
    }

    private mutating func readUpgradeAnswer(_ buffer: ByteBuffer, _ expectation: Expectation) -> Action {
        var buffer = buffer
        let known = expectation.webSocketKey == nil ? settings.knownAnswer : nil
        if let known, let earlyData = known.match(&buffer) {
            state = .done
            return .handOver(framed: false, earlyData: earlyData, behind: buffer)
        }
        let received = buffer
        var informational = false
        while let lines = ResponseHead.take(from: &buffer) {
            let head: ResponseHead
            do throws(ResponseHead.ParseError) {
                head = try ResponseHead(lines: lines, strict: true)
            } catch {
                switch error {
                case .notHTTP(let line):
                    return fail(.badAnswer, UpgradeResponseError.malformed("'\(line)' is not an HTTP/1 status line").description)
                case .badHeader(let line):
                    return fail(.badAnswer, UpgradeResponseError.malformed("bad header line '\(line)'").description)
                }
            }
            if head.isInformational {
                informational = true
                continue
            }
            let action = answered(head, expectation, behind: buffer)
            if let known, !informational, case .handOver(false, let earlyData, _) = action {
                known.remember(
                    received.getSlice(at: received.readerIndex, length: buffer.readerIndex - received.readerIndex)!, earlyData: earlyData)
            }
            return action
        }
        if buffer.readableBytes > settings.headLimit {
            return fail(.badAnswer, UpgradeResponseError.malformed("response head larger than \(settings.headLimit) bytes").description)
        }
        state = .upgradeSent(buffer, expectation)
        return .none
    }

    private mutating func answered(_ head: ResponseHead, _ expectation: Expectation, behind: ByteBuffer) -> Action {
        let httpHead = head.httpHead
        do throws(UpgradeResponseError) {
            var framed = false
            if let key = expectation.webSocketKey {
                framed = try WebSocketHandshake.validate(httpHead, key: key) == .framed
                // We offer no extension: a 101 that chose one (an original Purr 101 included) is not ours to read.
                if let chosen = head.values(Self.extensionsHeader).first {
                    throw UpgradeResponseError.missingOrWrong(header: Self.extensionsHeader, got: chosen)
                }
            } else {
                try UpgradeResponse.validate(httpHead, expected: expectation.upgrade)
            }
            state = .done
            return .handOver(framed: framed, earlyData: UpgradeResponse.acceptsEarlyData(httpHead), behind: behind)
        } catch .status {
            // Keep reading a little of the body: it says why (e.g. "no route for /x").
            var body = BodyReader(framing: head.bodyFraming, keep: Self.refusalBodyLimit, limit: Int.max)
            var rest = behind
            try? body.consume(&rest)
            // A server that drains (or is full) says when to come back: delta-seconds, bounded.
            let retryAfter = head.values("Retry-After").first.flatMap { Int($0.trimmingASCIIWhitespace()) }.map { min(max($0, 0), 3600) }
            state = .readingRefusal(body, status: head.code, reason: head.reason, retryAfter: retryAfter)
            return body.isComplete || body.isFull
                ? refusalComplete(body, status: head.code, reason: head.reason, retryAfter: retryAfter) : .none
        } catch {
            return fail(.badAnswer, error.description)
        }
    }

    private mutating func refusalComplete(_ body: BodyReader, status: Int, reason: String, retryAfter: Int?) -> Action {
        let text = String(buffer: body.kept).split(whereSeparator: \.isNewline).first.map(String.init) ?? ""
        state = .done
        return .fail(.refused(status: status, reason: reason, detail: text.printableLine, retryAfter: retryAfter))
    }

    private mutating func fail(_ kind: HandshakeFailure.Kind, status: String? = nil, _ words: String) -> Action {
        state = .done
        let code = status.flatMap { Int($0.prefix(3)) }
        let reason = status.map { String($0.dropFirst(3)).trimmingASCIIWhitespace() }
        return .fail(HandshakeFailure(kind: kind, status: code, reason: reason, words))
    }

    private mutating func lose(_ words: String) -> Action {
        state = .done
        return .lost(words)
    }
}
