/// Finds the route for a request. Unknown paths match nothing, so they are denied. Order:
/// 1. a plain route whose path equals the request's;
/// 2. a template (`/vnc/{host}/{port}`) whose segments all match: more literal segments first, then the
///    order of the configuration;
/// 3. the plain route with the longest path that is a prefix ending at a `/`.
/// At each step a route with `host` comes before one without.
public struct RouteTable: Sendable {
    public let routes: [Route]
    private let plain: [Route]
    private let templates: [Route]

    /// What a request path finds.
    enum Match: Equatable {
        case route(Route, captures: [String: String])
        /// A template matched, but a capture is not safe to use: 400 before anything resolves it.
        case badCapture(Route, String)
    }

    public init(_ routes: [Route]) {
        // Longest path first, host-specific before host-agnostic, so the first match wins.
        plain = routes.filter { $0.template == nil }.sorted {
            if $0.path.count != $1.path.count { return $0.path.count > $1.path.count }
            return ($0.host != nil) && ($1.host == nil)
        }
        let indexed = routes.enumerated().filter { $0.element.template != nil }
        templates = indexed.sorted { a, b in
            let (x, y) = (a.element, b.element)
            if x.template?.literalCount != y.template?.literalCount {
                return (x.template?.literalCount ?? 0) > (y.template?.literalCount ?? 0)
            }
            if (x.host != nil) != (y.host != nil) { return x.host != nil }
            return a.offset < b.offset
        }.map(\.element)
        self.routes = plain + templates
    }

    public var isEmpty: Bool { routes.isEmpty }

    public func match(path: String, host: String?) -> Route? {
        if case .route(let route, _) = find(path: path, host: host) { return route }
        return nil
    }

    func find(path: String, host: String?) -> Match? {
        if let exact = plain.first(where: { $0.path == path && $0.matches(host: host) }) { return .route(exact, captures: [:]) }
        for route in templates where route.matches(host: host) {
            switch route.template?.match(path) {
            case .captures(let captures): return .route(route, captures: captures)
            case .badCapture(let why): return .badCapture(route, why)
            case .noMatch, nil: continue
            }
        }
        return plain.first { $0.matches(path: path) && $0.matches(host: host) }.map { .route($0, captures: [:]) }
    }
}
