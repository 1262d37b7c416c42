import PurrCore

/// The wire floor's server hop, in the place of `purr-server --route PATH=TARGET`: it reads the
/// request head, checks its request line and that it asks for an upgrade (a byte search: a floor,
/// not a parser), connects to the target, and once connected writes the 101 our server sends
/// (early data kept), then the bytes that came behind the head, and relays.
struct WireFloorServerHop: EpollBehavior {
    static var awaitsConnect: Bool { true }
    private let requestLine: [UInt8]
    private let upgrade: [UInt8] = Array("\r\nUpgrade:".utf8)
    /// Byte for byte what `purr-server` answers a client that offered early data.
    private let switching: [UInt8] = Array(UpgradeResponse.switching(.purr, earlyData: true).utf8)

    init(path: String) {
        requestLine = Array("GET \(path) HTTP/1.1\r\n".utf8)
    }

    func accepted(_ link: EpollLink) -> Bool {
        link.heading = 0
        return false
    }

    func connected(_ link: EpollLink) {
        switching.withUnsafeBytes { link.append($0, to: 1) }
    }

    func headEnded(_ link: EpollLink, at end: Int) -> EpollHeadVerdict {
        let head = link.buffer(0)
        return head.starts(with: requestLine) && head.contains(upgrade, before: end) ? .connect : .drop
    }
}
