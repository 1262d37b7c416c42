import Logging
import NIOCore
import NIOHTTP1
import PurrCore

/// What the server knows of one request when a dynamic route picks its target (issue #16): the analogue
/// of the original Rack server's block argument. Built once per request by the server, after the route
/// matched and before anything is connected.
public struct TargetRequest: Sendable {
    /// The request path without its query, e.g. `/vnc/10.0.0.5/5901`.
    public var path: String
    /// The matched route's configured path (the template text for a template route).
    public var routePath: String
    /// Template captures by name (`{host}` -> "10.0.0.5"), already validated; empty for other routes.
    public var captures: [String: String]
    /// The request's Host header, if any.
    public var host: String?
    /// Every header field of the request head.
    public var headers: HTTPHeaders
    /// The client's address as the server sees it.
    public var peer: SocketAddress?
    /// The token the client presented (Authorization: Bearer, Purr-Token, or `?token=`). Never log it.
    public var token: String?

    public init(
        path: String, routePath: String, captures: [String: String] = [:], host: String? = nil, headers: HTTPHeaders = [:],
        peer: SocketAddress? = nil, token: String? = nil
    ) {
        self.path = path
        self.routePath = routePath
        self.captures = captures
        self.host = host
        self.headers = headers
        self.peer = peer
        self.token = token
    }
}

/// Why a dynamic source refused a request: the status the client gets, one line saying why (sent to the
/// client and logged, so never a token), and the label it is counted under in stats and metrics
/// (`forbidden_target`, `jwt_expired`, `resolver_timeout`, ...).
public struct TargetRefusal: Error, Sendable, Equatable, CustomStringConvertible {
    public var status: Int
    public var message: String
    public var reason: String

    public init(status: Int, message: String, reason: String) {
        self.status = status
        self.message = message
        self.reason = reason
    }

    public var description: String { "\(status) \(message)" }
}

/// Picks the target of one request, or refuses it. Implementations: path templates, token files, a
/// resolver service, signed tokens, and the embedding application's own closure. The server applies the
/// route's allow list to whatever comes back, so a source need not (but may) check it itself.
public protocol TargetSource: Sendable {
    func target(for request: TargetRequest) async throws(TargetRefusal) -> HostPort

    /// Called once the server uses this source (at start, and for the sources of a reloaded
    /// configuration), with the server's logger: the place to report what loading found (a token
    /// file's bad lines) and to keep the logger. Sources are built while the config is read, before
    /// logging is set up. The default does nothing.
    func activate(logger: Logger)
}

extension TargetSource {
    public func activate(logger: Logger) {}
}
