/// Finds the route for a request: the longest matching path among routes whose host matches.
/// Unknown paths match nothing, so they are denied.
public struct RouteTable: Sendable {
    public let routes: [Route]

    public init(_ routes: [Route]) {
        // Longest path first, host-specific before host-agnostic, so the first match wins.
        self.routes = routes.sorted {
            if $0.path.count != $1.path.count { return $0.path.count > $1.path.count }
            return ($0.host != nil) && ($1.host == nil)
        }
    }

    public var isEmpty: Bool { routes.isEmpty }

    public func match(path: String, host: String?) -> Route? {
        routes.first { $0.matches(path: path) && $0.matches(host: host) }
    }
}
