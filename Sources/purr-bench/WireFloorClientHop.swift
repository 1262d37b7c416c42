import PurrClient
import PurrCore

#if canImport(Glibc)
    import Glibc
#endif

/// The wire floor's client hop, in the place of `purr connect URL`: once the connect to the server
/// completes it sends the real client's upgrade request (early data offered, a `Purr-Connection` id
/// numbered per connection) with whatever the app sent so far right behind it, without waiting for
/// the app (server-speaks-first protocols work); then it reads the reply head, drops the connection
/// unless it is a 101, and relays what follows it.
struct WireFloorClientHop: EpollBehavior {
    static var awaitsConnect: Bool { true }
    /// The request up to the connection's number: byte for byte what `purr connect` sends.
    private let prefix: [UInt8]
    private let blankLine: [UInt8] = Array("\r\n\r\n".utf8)
    private let switching: [UInt8] = Array("HTTP/1.1 101 ".utf8)
    private var connections: UInt64 = 0

    init(path: String, server: Int) {
        var request = UpgradeRequest(path: path, host: "127.0.0.1:\(server)")
        request.offersEarlyData = true
        request.connectionID = "\(ClientInstance.id)/connect/"
        prefix = Array(request.encoded().utf8.dropLast(4))
    }

    mutating func accepted(_ link: EpollLink) -> Bool {
        connections += 1
        prefix.withUnsafeBytes { link.append($0, to: 0) }
        Self.appendDecimal(connections, to: link)
        blankLine.withUnsafeBytes { link.append($0, to: 0) }
        link.heading = 1
        return true
    }

    /// Takes what the app sent so far, if anything, to go out with the request in one write.
    func connected(_ link: EpollLink) {
        let start = link[0].offset + link[0].pending
        let count = read(link.fds.0, link.buffer(0).baseAddress! + start, EpollLink.bufferSize - start)
        if count > 0 { link[0].pending += count }
    }

    func headEnded(_ link: EpollLink, at end: Int) -> EpollHeadVerdict {
        link.buffer(1).starts(with: switching) ? .relay : .drop
    }

    /// The connection's number in decimal, written without allocating.
    private static func appendDecimal(_ value: UInt64, to link: EpollLink) {
        withUnsafeTemporaryAllocation(of: UInt8.self, capacity: 20) { digits in
            var rest = value
            var first = digits.count
            repeat {
                first -= 1
                digits[first] = UInt8(ascii: "0") + UInt8(rest % 10)
                rest /= 10
            } while rest > 0
            link.append(UnsafeRawBufferPointer(rebasing: UnsafeMutableRawBufferPointer(digits)[first...]), to: 0)
        }
    }
}
