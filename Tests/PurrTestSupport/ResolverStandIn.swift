import Foundation
import NIOCore
import NIOHTTP1
import NIOPosix
import NIOSSL
import PurrServer
import Synchronization

/// A real resolver service on 127.0.0.1 (http, or https with a test certificate): records every request
/// and answers each as its responder says: a target, a refusal, garbage, a hang, a hang-up.
public final class ResolverStandIn: Sendable {
    public enum Behaviour: Sendable {
        /// A complete answer.
        case answer(status: Int, body: String, contentType: String = "application/json")
        /// Reads the request and never answers.
        case hang
        /// Sends the head of a 200 with a body it never sends.
        case hangAfterHead
        /// Closes the connection without answering.
        case hangUp
        /// Answers when the test says so (`release`).
        case hold

        public static func target(_ target: String, ttl: Double? = nil) -> Behaviour {
            let ttlText = ttl.map { ", \"ttl\": \($0)" } ?? ""
            return .answer(status: 200, body: "{\"target\": \"\(target)\"\(ttlText)}")
        }

        public static func refuse(_ status: Int, message: String) -> Behaviour {
            .answer(status: status, body: "{\"message\": \"\(message)\"}")
        }
    }

    /// One request as the resolver received it.
    public struct Recorded: Sendable {
        public var method: String
        public var uri: String
        public var headers: [(String, String)]
        public var body: String

        public func header(_ name: String) -> String? {
            headers.first { $0.0.lowercased() == name.lowercased() }?.1
        }

        public var document: ResolverDocument? {
            try? JSONDecoder().decode(ResolverDocument.self, from: Data(body.utf8))
        }
    }

    public typealias Responder = @Sendable (Recorded) -> Behaviour

    struct State {
        var requests: [Recorded] = []
        var responder: Responder
        var children: [any Channel] = []
        var peakConnections = 0
        var held: [@Sendable (Behaviour) -> Void] = []
    }

    public let port: Int
    public let scheme: String
    let channel: any Channel
    let shared: Shared

    private init(channel: any Channel, scheme: String, shared: Shared) {
        self.channel = channel
        self.scheme = scheme
        self.port = channel.localAddress?.port ?? 0
        self.shared = shared
    }

    /// The URL a route's `resolver` key takes.
    public var url: String { "\(scheme)://\(scheme == "https" ? "localhost" : "127.0.0.1"):\(port)/purr/resolve" }

    public static func start(
        group: any EventLoopGroup, tls: TestCertificates? = nil, responder: @escaping Responder
    ) async throws -> ResolverStandIn {
        let box = Shared(State(responder: responder))
        let sslContext = try tls.map { certificates in
            try NIOSSLContext(
                configuration: .makeServerConfiguration(
                    certificateChain: try NIOSSLCertificate.fromPEMFile(certificates.certificateFile).map { .certificate($0) },
                    privateKey: .privateKey(try NIOSSLPrivateKey(file: certificates.keyFile, format: .pem))))
        }
        let channel = try await ServerBootstrap(group: group)
            .serverChannelOption(ChannelOptions.socketOption(.so_reuseaddr), value: 1)
            .childChannelInitializer { channel in
                box.state.withLock { state in
                    state.children.append(channel)
                    state.peakConnections = max(state.peakConnections, state.children.count)
                }
                channel.closeFuture.whenComplete { _ in
                    box.state.withLock { state in state.children.removeAll { $0 === channel } }
                }
                return channel.eventLoop.makeCompletedFuture {
                    if let sslContext { try channel.pipeline.syncOperations.addHandler(NIOSSLServerHandler(context: sslContext)) }
                    try channel.pipeline.syncOperations.configureHTTPServerPipeline()
                    try channel.pipeline.syncOperations.addHandler(RequestHandler(state: box))
                }
            }
            .bind(host: "127.0.0.1", port: 0)
            .get()
        return ResolverStandIn(channel: channel, scheme: tls == nil ? "http" : "https", shared: box)
    }

    /// Every request received so far.
    public var requests: [Recorded] { shared.state.withLock { $0.requests } }

    /// Connections to the resolver open now (an HTTP client keeps its idle ones until it is shut down).
    public var openConnections: Int { shared.state.withLock { $0.children.count } }

    /// The most connections that were open at once.
    public var peakConnections: Int { shared.state.withLock { $0.peakConnections } }

    /// Requests held now (`.hold`).
    public var heldCount: Int { shared.state.withLock { $0.held.count } }

    /// Answers every held request with `behaviour`.
    public func release(with behaviour: Behaviour) {
        for answer in shared.state.withLock({ state in
            defer { state.held = [] }
            return state.held
        }) { answer(behaviour) }
    }

    /// Answers from now on as `responder` says.
    public func respond(_ responder: @escaping Responder) {
        shared.state.withLock { $0.responder = responder }
    }

    /// Stops listening and hangs up on every connection (hung ones too).
    public func close() {
        channel.close(promise: nil)
        for child in shared.state.withLock({ $0.children }) { child.close(promise: nil) }
    }

    final class Shared: Sendable {
        let state: Mutex<State>
        init(_ state: State) { self.state = Mutex(state) }
    }

    final class RequestHandler: ChannelInboundHandler {
        typealias InboundIn = HTTPServerRequestPart
        typealias OutboundOut = HTTPServerResponsePart

        let state: Shared
        var head: HTTPRequestHead?
        var body: [UInt8] = []

        init(state: Shared) {
            self.state = state
        }

        func channelRead(context: ChannelHandlerContext, data: NIOAny) {
            switch unwrapInboundIn(data) {
            case .head(let head):
                self.head = head
                body = []
            case .body(var buffer):
                body += buffer.readBytes(length: buffer.readableBytes) ?? []
            case .end:
                guard let head else { return }
                let recorded = Recorded(
                    method: "\(head.method)", uri: head.uri, headers: head.headers.map { ($0.name, $0.value) },
                    body: String(decoding: body, as: UTF8.self))
                let behaviour = state.state.withLock { state in
                    state.requests.append(recorded)
                    return state.responder(recorded)
                }
                answer(behaviour, version: head.version, context: context)
            }
        }

        func answer(_ behaviour: Behaviour, version: HTTPVersion, context: ChannelHandlerContext) {
            switch behaviour {
            case .answer(let status, let text, let contentType):
                let bytes = Array(text.utf8)
                var headers = HTTPHeaders()
                headers.add(name: "Content-Type", value: contentType)
                headers.add(name: "Content-Length", value: String(bytes.count))
                let head = HTTPResponseHead(version: version, status: HTTPResponseStatus(statusCode: status), headers: headers)
                context.write(wrapOutboundOut(.head(head)), promise: nil)
                context.write(wrapOutboundOut(.body(.byteBuffer(ByteBuffer(bytes: bytes)))), promise: nil)
                context.writeAndFlush(wrapOutboundOut(.end(nil)), promise: nil)
            case .hang:
                break
            case .hangAfterHead:
                var headers = HTTPHeaders()
                headers.add(name: "Content-Type", value: "application/json")
                headers.add(name: "Content-Length", value: "100")
                context.writeAndFlush(
                    wrapOutboundOut(.head(HTTPResponseHead(version: version, status: .ok, headers: headers))), promise: nil)
            case .hangUp:
                context.close(promise: nil)
            case .hold:
                let loop = context.eventLoop
                let bound = NIOLoopBound((self, context), eventLoop: loop)
                state.state.withLock { held in
                    held.held.append { behaviour in
                        loop.execute {
                            let (handler, context) = bound.value
                            handler.answer(behaviour, version: version, context: context)
                        }
                    }
                }
            }
        }
    }
}
