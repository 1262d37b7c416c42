import NIOCore
import NIOHTTP1
import PurrCore

/// The JSON document POSTed to the resolver for one request.
public struct ResolverDocument: Codable, Sendable, Equatable {
    /// The request path without its query.
    public var path: String
    /// The request's Host header, if any.
    public var host: String?
    /// The matched route's configured path.
    public var route: String
    /// The client's address (`127.0.0.1:51234`, `[::1]:51234`).
    public var peer: String?
    /// The token the client presented, if any.
    public var token: String?
    /// Template captures by name.
    public var captures: [String: String]
    /// The headers named in `resolver_headers` that the request carries (several values joined with ", ").
    public var headers: [String: String]

    public init(
        path: String, host: String?, route: String, peer: String?, token: String?, captures: [String: String], headers: [String: String]
    ) {
        self.path = path
        self.host = host
        self.route = route
        self.peer = peer
        self.token = token
        self.captures = captures
        self.headers = headers
    }

    /// The document for `request`, with only the `selected` headers.
    public init(request: TargetRequest, selected: [String]) {
        var headers: [String: String] = [:]
        for name in selected {
            let values = request.headers[name]
            if !values.isEmpty { headers[name] = values.joined(separator: ", ") }
        }
        self.init(
            path: request.path, host: request.host, route: request.routePath, peer: request.peer?.hostPortDescription,
            token: request.token, captures: request.captures, headers: headers)
    }
}
