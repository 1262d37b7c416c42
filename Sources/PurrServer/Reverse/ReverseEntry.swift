import PurrCore

/// One `[[reverse]]` entry of `server.toml`: a service on an exposing client's side, published through
/// this server. The client registers by holding upgrade requests to `path` (`Purr-Reverse: name`, the
/// token); a connection to `listen` (a TCP port here) or to the `publish` route (other Purr clients)
/// takes one held request, which is answered 101 and relayed.
public struct ReverseEntry: Sendable {
    public var name: String
    /// Where exposing clients register, e.g. `/rev/lab-ssh`.
    public var path: String
    /// Required of registering clients (constant-time compare); never logged.
    public var token: String?
    /// The published TCP port; nil: a loopback port of its own for the `publish` route only.
    public var listen: HostPort?
    /// A route that other Purr clients open to reach the service.
    public var publish: String?
    /// The token the `publish` route needs (nil: none).
    public var publishToken: String?
    /// Allows a `listen` address that is not loopback.
    public var isPublic = false
    /// More than one registered client at once (new connections spread over them).
    public var share = false
    public var maxClients = 1
    /// Held requests one client may have open.
    public var pool = 16
    /// Seconds a published connection waits for a free held request before it is refused.
    public var waitTimeout: Double = 10
    /// Connections that may wait for a held request at once; more are refused.
    public var maxWaiting = 1024
    /// The live state of this name (registered clients, held requests, waiting connections).
    public let slot: ReverseSlot

    public init(name: String, path: String) {
        self.name = name
        self.path = path
        self.slot = ReverseSlot(name: name)
    }

    static let keys: Set<String> = [
        "name", "path", "token", "listen", "publish", "publish_token", "public", "share", "max_clients", "pool", "wait_timeout",
        "max_waiting",
    ]

    /// Names are shown in logs and sent as a header: a short token.
    static func validName(_ name: String) -> Bool { ReverseName.isValid(name) }

    /// Reads every `[[reverse]]` entry; errors name the file and the key.
    static func load(from toml: TOMLReader) throws(ConfigError) -> [ReverseEntry] {
        var entries: [ReverseEntry] = []
        for table in try toml.tables("reverse") {
            try table.checkKeys(keys)
            let name = try table.requiredString("name")
            guard validName(name) else {
                throw ConfigError(
                    "\(table.file): \(table.path).name: '\(name.printableLine)' is not a name (\(ReverseName.rule))")
            }
            let path = try table.requiredString("path")
            guard path.hasPrefix("/"), !path.contains(where: { $0 == " " || $0 == "?" || $0 == "#" }) else {
                throw ConfigError("\(table.file): \(table.path).path: must start with '/' and have no spaces, '?' or '#'")
            }
            var entry = ReverseEntry(name: name, path: path)
            entry.token = try table.string("token")
            if let token = entry.token, token.isEmpty || !HeadValidation.isToken68(token) {
                throw ConfigError("\(table.file): \(table.path).token: empty or not a valid token (token68)")
            }
            entry.publishToken = try table.string("publish_token")
            entry.isPublic = try table.bool("public") ?? false
            if let listen = try table.string("listen") {
                entry.listen = try table.wrap("listen") { () throws(ConfigError) in try HostPort(parsing: listen, allowZeroPort: true) }
            }
            entry.publish = try table.string("publish")
            guard entry.listen != nil || entry.publish != nil else {
                throw ConfigError("\(table.file): \(table.path): give listen = \"127.0.0.1:PORT\" and/or publish = \"/ROUTE\"")
            }
            if let listen = entry.listen, !listen.isLoopback, !entry.isPublic {
                throw ConfigError(
                    "\(table.file): \(table.path).listen: \(listen) is not a loopback address; add public = true to publish it to the network"
                )
            }
            entry.share = try table.bool("share") ?? false
            entry.maxClients = try table.int("max_clients", range: 1...10_000) ?? (entry.share ? 16 : 1)
            if !entry.share && entry.maxClients > 1 {
                throw ConfigError("\(table.file): \(table.path).max_clients: more than one client needs share = true")
            }
            entry.pool = try table.int("pool", range: 1...1024) ?? 16
            entry.waitTimeout = try table.seconds("wait_timeout", range: 0.05...3600) ?? 10
            entry.maxWaiting = try table.int("max_waiting", range: 1...100_000) ?? 1024
            if entries.contains(where: { $0.name == name }) {
                throw ConfigError("\(table.file): \(table.path).name: '\(name)' is already defined")
            }
            if entries.contains(where: { $0.path == path }) {
                throw ConfigError("\(table.file): \(table.path).path: '\(path)' is already used by another [[reverse]]")
            }
            entries.append(entry)
        }
        return entries
    }

    /// The `publish` route: an ordinary route whose target is this entry's listener, refused with 503
    /// (and why) while no client has the name registered. `headerTimeout`: the server's, which bounds
    /// the route's wait for a free held request.
    func publishRoute(headerTimeout: Double) throws(ConfigError) -> Route? {
        guard let publish else { return nil }
        var entries = ["127.0.0.1:1-65535", "[::1]:1-65535"]
        // A specific listen address (public = true) is where the route connects; a wildcard one is reached on loopback.
        if let listen, !listen.isLoopback, !["0.0.0.0", "::", "[::]"].contains(listen.host) {
            let host = listen.host.contains(":") && !listen.host.hasPrefix("[") ? "[\(listen.host)]" : listen.host
            entries.append("\(host):1-65535")
        }
        let allow = try AllowList(entries)
        return try Route(
            path: publish, target: .source(ReversePublishSource(entry: self, headerTimeout: headerTimeout), summary: "reverse \(name)"),
            allow: allow,
            token: publishToken)
    }
}
