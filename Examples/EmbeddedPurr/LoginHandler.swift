import NIOCore
import NIOHTTP1
import PurrCore

/// The application's HTTP endpoint: `GET /login?machine=NAME` answers a ticket, `GET /healthz` ok.
final class LoginHandler: ChannelInboundHandler {
    typealias InboundIn = HTTPServerRequestPart
    typealias OutboundOut = HTTPServerResponsePart

    let tickets: Tickets
    let machines: [String: HostPort]
    private var uri = ""

    init(tickets: Tickets, machines: [String: HostPort]) {
        self.tickets = tickets
        self.machines = machines
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        switch Self.unwrapInboundIn(data) {
        case .head(let head): uri = head.uri
        case .body: break
        case .end: respond(context: context)
        }
    }

    private func respond(context: ChannelHandlerContext) {
        let (status, body): (HTTPResponseStatus, String)
        if uri == "/healthz" {
            (status, body) = (.ok, "ok")
        } else if uri.hasPrefix("/login?machine="), case let name = String(uri.dropFirst("/login?machine=".count)), machines[name] != nil {
            (status, body) = (.ok, tickets.issue(for: name))
        } else {
            (status, body) = (.notFound, "no such page or machine")
        }
        var headers = HTTPHeaders([("Content-Type", "text/plain"), ("Content-Length", "\(body.utf8.count + 1)")])
        headers.add(name: "Connection", value: "close")
        context.write(Self.wrapOutboundOut(.head(HTTPResponseHead(version: .http1_1, status: status, headers: headers))), promise: nil)
        context.write(Self.wrapOutboundOut(.body(.byteBuffer(ByteBuffer(string: body + "\n")))), promise: nil)
        context.writeAndFlush(Self.wrapOutboundOut(.end(nil))).assumeIsolated().whenComplete { _ in context.close(promise: nil) }
    }
}
