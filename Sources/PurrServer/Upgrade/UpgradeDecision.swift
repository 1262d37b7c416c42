import NIOCore
import NIOHTTP1
import PurrCore

/// What the routes say about a request head before anything is counted (`ServerSettings.decide`).
enum RouteVerdict {
    /// Refused before a route was found.
    case refuse(Refusal)
    /// Refused once its route was found (a bad capture, a token, a template's target): counted against it.
    case refuseOnRoute(Refusal, Route)
    /// Accepted, subject to the route's connection limit, which counting it checks.
    case accept(Route, UpgradeRequest, UpgradeStateMachine.TargetChoice)
    /// A reverse tunnel's path or registration: its entry decides and counts (`reverseDecision`).
    case reverse(UpgradeRequest)
    /// Not an upgrade: answered plainly and not counted (the health check).
    case answer(PlainAnswer)
}

extension ServerSettings {
    /// What a request head gets, as the upgrade handler asks: decided (`decide`, which writes nothing),
    /// then counted in the stats against its route (`record`), where the route's limit is checked.
    func admit(_ head: HTTPRequestHead, record: ConnectionRecord?, peer: SocketAddress? = nil) -> UpgradeStateMachine.Decision {
        switch decide(head, peer: peer) {
        case .refuse(let refusal):
            return .refuse(refusal)
        case .answer(let answer):
            return .answer(answer)
        case .reverse(let request):
            return reverseDecision(head, request, record: record, peer: peer) ?? .refuse(.notFound("no reverse tunnel here", .noRoute))
        case .refuseOnRoute(let refusal, let route):
            if let record { registry.routed(record, to: route) }
            return .refuse(refusal)
        case .accept(let route, let request, let choice):
            // Counting and the limit are one step: two connections cannot both take the last place.
            let routeActive = record.map { registry.routed($0, to: route) } ?? 0
            if let limit = route.maxConnections, routeActive > limit {
                return .refuse(.overLimit("route \(route.path) is at its limit of \(limit) connections"))
            }
            if let record, case .known(let target) = choice { registry.chose(record, target: target) }
            return .accept(route, request, choice)
        }
    }

    /// What the routes say about a request head: the original protocol's checks, then the route, its
    /// token, and how its target is chosen. Writes nothing (stats, slots): `admit` counts.
    func decide(_ head: HTTPRequestHead, peer: SocketAddress? = nil) -> RouteVerdict {
        // A head that arrives whole in one read never trips the gate's running count; its size is checked here.
        if Self.size(of: head) > maxHeadSize {
            return .refuse(.headTooLarge(RelayHandOver.HeadTooLarge(limit: maxHeadSize).description))
        }
        let draining = registry.isDraining
        if let health = HealthCheck.verdict(for: head, draining: draining, retryAfter: retryAfter) { return health }
        let request: UpgradeRequest
        do {
            request = try UpgradeRequest(validating: head)
        } catch {
            return .refuse(error.isMalformed ? .badRequest(error.description) : .notFound(error.description, .notPurr))
        }
        // Draining: every upgrade (routes, WebSockets, reverse registrations) is sent elsewhere before
        // anything else is looked at; live relays go on.
        if draining { return .refuse(.draining(retryAfter: retryAfter)) }
        if head.value(of: ReverseWire.nameHeader) != nil || reverses.contains(where: { $0.path == request.routePath }) {
            return .reverse(request)
        }
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
            return .refuseOnRoute(Refusal(.badCapture(why)), matched)
        }
        // The token before the route's limit: a client without it learns nothing of the route's load.
        if let expected = route.token {
            guard let presented = request.token else {
                return .refuseOnRoute(
                    .unauthorized("route \(route.path) needs a token (Authorization: Bearer TOKEN, or ?token= for WebSocket clients)"),
                    route)
            }
            guard ConstantTime.equals(presented, expected) else {
                return .refuseOnRoute(.unauthorized("wrong token for route \(route.path)"), route)
            }
        }
        switch route.target {
        case .fixed(let target):
            return .accept(route, request, .known(target))
        case .template(let template):
            let target: HostPort
            switch template.fill(captures) {
            case .success(let filled): target = filled
            case .failure(let refusal): return .refuseOnRoute(Refusal(refusal), route)
            }
            if let refusal = route.admit(target) { return .refuseOnRoute(Refusal(refusal), route) }
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
