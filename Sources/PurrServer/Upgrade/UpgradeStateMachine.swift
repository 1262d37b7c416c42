import NIOCore
import NIOHTTP1
import PurrCore

/// The server side of one upgrade, as a state machine in NIO's style: each input returns the action the
/// handler must carry out, and the machine holds no channel. Reading the head, connecting the target,
/// answering (101 or an error line) and handing over to the relay happen in that order and only once.
struct UpgradeStateMachine {
    /// What the routes, the limits and the token say about a request head.
    enum Decision {
        case accept(Route, UpgradeRequest, TargetChoice)
        case refuse(Refusal)
        /// Not an upgrade (the health check): answered, then closed like a refusal.
        case answer(PlainAnswer)
    }

    /// The target of an accepted request: known now (fixed routes, templates), or to be asked of the
    /// route's source (token file, resolver, signed token, the embedding application).
    enum TargetChoice {
        case known(HostPort)
        case ask(TargetRequest)
        /// A reverse registration (`[[reverse]]`): held unanswered until a published connection, the
        /// target, arrives for it (`ReverseHold`).
        case held(ReverseHold)
    }

    enum State {
        case readingHead
        /// The route's source is choosing the target (asynchronously). `endSeen` as for `connecting`.
        case choosing(UpgradeRequest, endSeen: Bool)
        /// The head was accepted and the target is being connected. The decoder's `.end` for the head
        /// comes right behind it; the hand-over waits for it so no HTTP part reaches the relay.
        case connecting(UpgradeRequest, endSeen: Bool, target: (any Channel)?)
        /// An error answer is on its way; whatever the client still sends is discarded.
        case refusing
        /// Handed over to the relay, or the client went away.
        case done
    }

    enum Action {
        case none
        case refuse(Refusal)
        /// Write a plain answer (the health check) and close; the connection is not counted.
        case answer(PlainAnswer)
        /// Ask the route's source for the target; its answer comes back as `targetChosen` or `targetRefused`.
        case lookup(Route, TargetRequest)
        case connect(HostPort)
        /// Wait on the held request for its published connection; it comes back as `targetConnected`.
        case hold(ReverseHold)
        /// Answer 101 and hand both channels to a relay session.
        case upgrade(target: any Channel, UpgradeRequest)
        /// A target connected for a client that is gone.
        case closeTarget(any Channel)
        /// The client left (or broke) before the relay began: count it and close (and the target, if any;
        /// a lookup still running is cancelled).
        case clientGone(String, target: (any Channel)?)
        /// Nothing arrived within the silent timeout: close without an answer (nobody asked anything).
        case silentClose(seconds: Double)
        case close
    }

    private(set) var state = State.readingHead

    mutating func receivedHead(_ decision: Decision) -> Action {
        guard case .readingHead = state else { return .none }
        switch decision {
        case .refuse(let refusal):
            state = .refusing
            return .refuse(refusal)
        case .answer(let answer):
            state = .refusing
            return .answer(answer)
        case .accept(_, let request, .known(let target)):
            state = .connecting(request, endSeen: false, target: nil)
            return .connect(target)
        case .accept(let route, let request, .ask(let question)):
            state = .choosing(request, endSeen: false)
            return .lookup(route, question)
        case .accept(_, let request, .held(let hold)):
            state = .connecting(request, endSeen: false, target: nil)
            return .hold(hold)
        }
    }

    /// The source answered with a target the allow list admits.
    mutating func targetChosen(_ target: HostPort) -> Action {
        guard case .choosing(let request, let endSeen) = state else { return .none }
        state = .connecting(request, endSeen: endSeen, target: nil)
        return .connect(target)
    }

    /// The source refused, or its answer is outside the allow list.
    mutating func targetRefused(_ refusal: Refusal) -> Action {
        guard case .choosing = state else { return .none }
        state = .refusing
        return .refuse(refusal)
    }

    /// No answer from the source within the deadline.
    mutating func lookupTimedOut(_ refusal: Refusal) -> Action {
        targetRefused(refusal)
    }

    mutating func receivedEnd() -> Action {
        if case .choosing(let request, _) = state {
            state = .choosing(request, endSeen: true)
            return .none
        }
        guard case .connecting(let request, _, let target) = state else { return .none }
        if let target {
            state = .done
            return .upgrade(target: target, request)
        }
        state = .connecting(request, endSeen: true, target: nil)
        return .none
    }

    mutating func targetConnected(_ target: any Channel, clientActive: Bool) -> Action {
        guard case .connecting(let request, let endSeen, nil) = state, clientActive else { return .closeTarget(target) }
        if endSeen {
            state = .done
            return .upgrade(target: target, request)
        }
        state = .connecting(request, endSeen: false, target: target)
        return .none
    }

    mutating func targetFailed(_ message: String) -> Action {
        guard case .connecting = state else { return .none }
        state = .refusing
        return .refuse(.badGateway(message))
    }

    mutating func headerTimedOut(seconds: Double) -> Action {
        guard case .readingHead = state else { return .none }
        state = .refusing
        return .refuse(.headerTimeout(seconds: seconds))
    }

    mutating func silentTimedOut(seconds: Double) -> Action {
        guard case .readingHead = state else { return .none }
        state = .done
        return .silentClose(seconds: seconds)
    }

    mutating func overLimit(_ limit: Int) -> Action {
        guard case .readingHead = state else { return .none }
        state = .refusing
        return .refuse(.overLimit("server is at its limit of \(limit) connections"))
    }

    /// This peer already has its limit of connections that are not relaying yet.
    mutating func overPeerLimit(_ limit: Int) -> Action {
        guard case .readingHead = state else { return .none }
        state = .refusing
        return .refuse(.peerLimit("too many connections from your address still handshaking (limit \(limit))"))
    }

    mutating func inputClosed() -> Action {
        switch state {
        case .readingHead:
            state = .done
            return .clientGone("client closed before finishing its request head", target: nil)
        case .refusing:
            return .close
        case .choosing, .connecting, .done:
            // While choosing and connecting, the hand-over's gate holds the end of input for the relay.
            return .none
        }
    }

    mutating func channelInactive() -> Action {
        switch state {
        case .readingHead:
            return abandon("client disconnected before finishing its request head")
        case .choosing:
            return abandon("client disconnected while its target was being chosen")
        case .connecting:
            return abandon("client disconnected while the target was connecting")
        case .refusing, .done:
            return .none
        }
    }

    mutating func errorCaught(_ error: any Error) -> Action {
        switch state {
        case .readingHead:
            if let tooLarge = error as? RelayHandOver.HeadTooLarge {
                state = .refusing
                return .refuse(.headTooLarge(tooLarge.description))
            }
            if let parse = error as? HTTPParserError, parse == .invalidEOFState {
                // The decoder's word for a client that left in the middle of its head.
                return abandon("client closed before finishing its request head")
            }
            if let parse = error as? HTTPParserError {
                state = .refusing
                return .refuse(.badRequest("malformed request: \(Self.describe(parse))"))
            }
            return abandon("client error: \(ConnectFailure.describe(error))")
        case .choosing, .connecting:
            return abandon("client error: \(ConnectFailure.describe(error))")
        case .refusing:
            // The decoder complains about every byte after a bad head; the answer is already on its way.
            return .none
        case .done:
            return .close
        }
    }

    /// The client is gone before the relay: whatever was connected for it goes too.
    private mutating func abandon(_ detail: String) -> Action {
        var target: (any Channel)?
        if case .connecting(_, _, let connected) = state { target = connected }
        state = .done
        return .clientGone(detail, target: target)
    }

    /// llhttp's error names, in words.
    static func describe(_ error: HTTPParserError) -> String {
        switch error {
        case .invalidMethod: return "bad request line (method)"
        case .invalidURL: return "bad request target"
        case .invalidVersion: return "unsupported HTTP version"
        case .invalidHeaderToken: return "bad header name"
        case .invalidConstant: return "not HTTP/1.x"
        case .lfExpected, .strictModeAssertion: return "bad line ending"
        case .invalidContentLength, .unexpectedContentLength: return "bad Content-Length"
        case .invalidChunkSize: return "bad chunk size"
        case .headerOverflow: return "header too long"
        case .invalidCharactersUsed: return "bad character"
        default: return "\(error)"
        }
    }
}
