import NIOHTTP1
import PurrCore

extension ServerEnvironment {
    /// What a request head gets: the original protocol's checks, then the route, its limit and its token.
    func decide(_ head: HTTPRequestHead, record: ConnectionRecord?) -> UpgradeStateMachine.Decision {
        // A head that arrives whole in one read never trips the gate's running count; its size is checked here.
        if Self.size(of: head) > maxHeadSize {
            return .refuse(.headTooLarge(HandshakeGate.HeadTooLarge(limit: maxHeadSize).description))
        }
        let request: UpgradeRequest
        do {
            request = try UpgradeRequest(validating: head)
        } catch {
            return .refuse(error.isMalformed ? .badRequest(error.description) : .notFound(error.description, .notPurr))
        }
        // Any web page may open a WebSocket to a loopback server: browsers say whose page it is, and only
        // the origins the server lists get through (programs send no Origin).
        if request.webSocketKey != nil, let origin = head.value(of: "Origin"), !allowsWebSocket(origin: origin) {
            return .refuse(.forbiddenOrigin("WebSocket origin \(origin.printableLine) is not allowed (purr-server --ws-origin)"))
        }
        guard let route = routes.match(path: request.routePath, host: head.value(of: PurrWire.Header.host)) else {
            let message = routes.isEmpty ? "no routes are configured on this server" : "no route for \(request.routePath.printableLine)"
            return .refuse(.notFound(message, .noRoute))
        }
        let routeActive = record.map { registry.routed($0, to: route) } ?? 0
        if let limit = route.maxConnections, routeActive > limit {
            return .refuse(.overLimit("route \(route.path) is at its limit of \(limit) connections"))
        }
        if let expected = route.token {
            guard let presented = request.token else {
                return .refuse(
                    .unauthorized("route \(route.path) needs a token (Authorization: Bearer TOKEN, or ?token= for WebSocket clients)"))
            }
            guard ConstantTime.equals(presented, expected) else {
                return .refuse(.unauthorized("wrong token for route \(route.path)"))
            }
        }
        return .accept(route, request)
    }

    func allowsWebSocket(origin: String) -> Bool {
        let origin = origin.trimmingASCIIWhitespace().lowercased()
        return webSocketOrigins.contains { $0 == "*" || $0.lowercased() == origin }
    }

    /// The head's size on the wire: request line, `name: value` lines, and the blank line.
    static func size(of head: HTTPRequestHead) -> Int {
        let requestLine = head.method.rawValue.utf8.count + 1 + head.uri.utf8.count + 1 + 8 + 2
        return head.headers.reduce(requestLine + 2) { $0 + $1.name.utf8.count + 2 + $1.value.utf8.count + 2 }
    }
}
