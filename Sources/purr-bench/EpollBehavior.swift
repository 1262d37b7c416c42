/// What an epoll hop does besides copying: nothing for the own relay; Purr's upgrade for the wire
/// floor. Called on the loop's thread only; the loop does every socket call but the ones noted.
protocol EpollBehavior: Sendable {
    /// Whether `connected` is wanted: the loop then waits for the onward connect to complete.
    static var awaitsConnect: Bool { get }
    /// A connection came in as side 0 of `link`; true: connect onward now (else once a head ended).
    mutating func accepted(_ link: EpollLink) -> Bool
    /// The onward connect of `link` completed; what the behavior puts in a buffer is written next.
    mutating func connected(_ link: EpollLink)
    /// The head read on `link.heading` ends at byte `end` of its buffer (the blank line included).
    mutating func headEnded(_ link: EpollLink, at end: Int) -> EpollHeadVerdict
}

/// What a hop does once a head is read.
enum EpollHeadVerdict {
    /// Not the head this hop expects: close both sockets.
    case drop
    /// Relay what came behind the head, and the rest.
    case relay
    /// Connect onward, then relay.
    case connect
}

/// Copying and nothing else: connect onward at once, no head on either side.
struct PlainRelay: EpollBehavior {
    static var awaitsConnect: Bool { false }

    func accepted(_ link: EpollLink) -> Bool { true }
    func connected(_ link: EpollLink) {}
    func headEnded(_ link: EpollLink, at end: Int) -> EpollHeadVerdict { .drop }
}
