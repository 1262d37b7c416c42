import NIOCore
import PurrCore

/// The proxy's part of a connection through an HTTP proxy: sends the CONNECT when the channel becomes
/// active, reads the proxy's answer head and not one byte more, then leaves the pipeline.
///
/// A CONNECT answer's head ends the HTTP exchange with the proxy: a 2xx has no body whatever its version
/// or headers say (RFC 9110 9.3.6), and what follows belongs to the tunnel. NIOHTTP1's decoder cannot
/// read it: it parses on past the head, and after an `HTTP/1.0` answer (tinyproxy's) it takes every
/// further byte as an error. So the answer is read here, and TLS and the upgrade's own HTTP handlers
/// start fresh behind it.
///
/// Sits first in the pipeline. On a 2xx it leaves, fires `Established` from the head (the
/// `UpgradeClientHandler` adds TLS there and sends its request), then feeds the bytes that came behind
/// the answer in again at the head, untouched. Any other answer is fired as a `Failure` error.
final class ProxyTunnelHandler: ChannelInboundHandler, RemovableChannelHandler {
    typealias InboundIn = ByteBuffer
    typealias OutboundOut = ByteBuffer

    /// The proxy said yes: the channel now carries the tunnel (a user inbound event).
    struct Established: Sendable {}

    /// The proxy said no, or something that is not an answer; in words, without credentials.
    struct Failure: Error, Equatable, CustomStringConvertible {
        let description: String
    }

    private enum State {
        case awaitingAnswer(ByteBuffer)
        case done
    }

    private let proxy: ProxySettings
    private let target: HostPort
    private let limit: Int
    private var state = State.awaitingAnswer(ByteBuffer())

    init(proxy: ProxySettings, target: HostPort, limit: Int = PurrWire.maxHeadSize) {
        self.proxy = proxy
        self.target = target
        self.limit = limit
    }

    func channelActive(context: ChannelHandlerContext) {
        let request = context.channel.allocator.buffer(string: proxy.connectRequest(to: target))
        context.writeAndFlush(wrapOutboundOut(request), promise: nil)
        context.fireChannelActive()
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        guard case .awaitingAnswer(var buffer) = state else { return }  // failed: the channel is closing
        var bytes = unwrapInboundIn(data)
        buffer.writeBuffer(&bytes)
        state = .awaitingAnswer(buffer)
        while case .awaitingAnswer(var buffer) = state, let head = Self.readHead(from: &buffer) {
            state = .awaitingAnswer(buffer)
            switch ProxyAnswer(head: head) {
            case .informational:
                continue  // a 1xx before the real answer
            case .established:
                established(context: context, behind: buffer)
            case .refused(let status):
                failed(context: context, "proxy \(proxy.endpoint) refused CONNECT: \(status)")
            case .malformed(let line):
                failed(context: context, "proxy \(proxy.endpoint) sent a bad answer to CONNECT: '\(line)'")
            }
        }
        if case .awaitingAnswer(let buffer) = state, buffer.readableBytes > limit {
            failed(context: context, "proxy \(proxy.endpoint) sent an answer head larger than \(limit) bytes")
        }
    }

    /// Leaves, so that nothing of the tunnel passes here again, then lets the handlers behind set up
    /// and hands them what came behind the answer.
    private func established(context: ChannelHandlerContext, behind: ByteBuffer) {
        state = .done
        let pipeline = context.pipeline.syncOperations
        pipeline.removeHandler(context: context, promise: nil)
        pipeline.fireUserInboundEventTriggered(Established())
        if behind.readableBytes > 0 {
            pipeline.fireChannelRead(NIOAny(behind))
        }
    }

    private func failed(context: ChannelHandlerContext, _ words: String) {
        state = .done
        context.fireErrorCaught(Failure(description: words))
    }

    /// One head (its lines, CR LF or bare LF ended, up to the empty line) taken from the front of
    /// `buffer`; nil while it is incomplete.
    static func readHead(from buffer: inout ByteBuffer) -> [String]? {
        var lines: [String] = []
        var start = buffer.readerIndex
        var index = start
        let end = buffer.writerIndex
        while index < end {
            if buffer.getInteger(at: index, as: UInt8.self) == UInt8(ascii: "\n") {
                var lineEnd = index
                if lineEnd > start, buffer.getInteger(at: lineEnd - 1, as: UInt8.self) == UInt8(ascii: "\r") { lineEnd -= 1 }
                let line = buffer.getString(at: start, length: lineEnd - start) ?? ""
                start = index + 1
                if line.isEmpty, !lines.isEmpty {
                    buffer.moveReaderIndex(to: start)
                    return lines
                }
                if !line.isEmpty { lines.append(line) }
            }
            index += 1
        }
        return nil
    }
}

/// What one answer head to a CONNECT says.
enum ProxyAnswer: Equatable {
    case established
    /// 1xx (other than 101): another head follows.
    case informational
    /// Not 2xx: the status code and reason, as one printable line.
    case refused(String)
    /// No HTTP/1 status line: that line, printable and short.
    case malformed(String)

    /// `lines`: the head's lines, the status line first.
    init(head lines: [String]) {
        let statusLine = lines.first ?? ""
        let parts = statusLine.split(separator: " ", maxSplits: 2, omittingEmptySubsequences: false)
        guard parts.count >= 2, parts[0] == "HTTP/1.0" || parts[0] == "HTTP/1.1", parts[1].count == 3,
            parts[1].allSatisfy(\.isASCII), let code = Int(parts[1]), code >= 100
        else {
            self = .malformed(statusLine.printableLine)
            return
        }
        switch code {
        case 200..<300:
            self = .established
        case 100..<200 where code != 101:
            self = .informational
        default:
            let reason = parts.count > 2 ? String(parts[2]).trimmingASCIIWhitespace() : ""
            self = .refused((reason.isEmpty ? String(code) : "\(code) \(reason)").printableLine)
        }
    }
}
