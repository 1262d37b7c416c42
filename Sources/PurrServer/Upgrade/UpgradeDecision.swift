import NIOCore
import NIOHTTP1
import PurrCore

extension ServerSettings {
    /// What a request head gets: the original protocol's checks, then the route, its limit, its token,
    /// and how its target is chosen.
    func decide(_ head: HTTPRequestHead, record: ConnectionRecord?, peer: SocketAddress? = nil) -> UpgradeStateMachine.Decision {
        // A head that arrives whole in one read never trips the gate's running count; its size is checked here.
        if Self.size(of: head) > maxHeadSize {
            return .refuse(.headTooLarge(RelayHandOver.HeadTooLarge(limit: maxHeadSize).description))
        }
        let request: UpgradeRequest
        do {
            request = try UpgradeRequest(validating: head)
        } catch {
            return .refuse(error.isMalformed ? .badRequest(error.description) : .notFound(error.description, .notPurr))
        }
        if let reverse = reverseDecision(head, request, record: record, peer: peer) { return reverse }
        // Any web page may open a WebSocket to a loopback server: browsers say whose page it is, and only
        // the origins the server lists get through (programs send no Origin).
        if request.webSocketKey != nil, let origin = head.value(of: "Origin"), !allowsWebSocket(origin: origin) {
            return .refuse(.forbiddenOrigin("WebSocket origin \(origin.printableLine) is not allowed (purr-server --ws-origin)"))
        }
        let hostHeader = head.value(of: PurrWire.Header.host)
        guard let match = routes.find(path: request.routePath, host: hostHeader) else {
            let message = routes.isEmpty ? "no routes are configured on this server" : "no route for \(request.routePath.printableLine)"
            return .refuse(.notFound(message, .noRoute))
        }
        let route: Route
        let captures: [String: String]
        switch match {
        case .route(let matched, let found):
            (route, captures) = (matched, found)
        case .badCapture(let matched, let why):
            // Counted against the template's route; nothing has looked at the capture beyond this check.
            if let record { registry.routed(record, to: matched) }
            return .refuse(Refusal(.badCapture(why)))
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
        switch route.target {
        case .fixed(let target):
            return .accept(route, request, .known(target))
        case .template(let template):
            let target: HostPort
            switch template.fill(captures) {
            case .success(let filled): target = filled
            case .failure(let refusal): return .refuse(Refusal(refusal))
            }
            if let refusal = route.admit(target) { return .refuse(Refusal(refusal)) }
            if let record { registry.chose(record, target: target) }
            return .accept(route, request, .known(target))
        case .source:
            let question = TargetRequest(
                path: request.routePath, routePath: route.path, captures: captures, host: hostHeader, headers: head.headers, peer: peer,
                token: request.token)
            return .accept(route, request, .ask(question))
        }
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
