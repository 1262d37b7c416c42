import Logging
import NIOCore
import PurrCore

extension Route {
    /// A route whose target the application chooses per request, in Swift: the closure gets the parsed
    /// request (path, captures of a template path, headers, peer, presented token) and returns a
    /// target, or throws a `TargetRefusal` (its status and one line go to the client; `.refused(...)`
    /// is counted as `refused`). What it returns must pass `allow` (403 `forbidden_target` otherwise),
    /// and it has the server's header timeout to answer (504 `resolver_timeout`).
    ///
    /// ```swift
    /// let consoles = try Route(path: "/console/{machine}", allow: AllowList(["10.0.0.0/8:5900-5999"])) { request in
    ///     guard let machine = await inventory.machine(named: request.captures["machine"]!, session: request.token)
    ///     else { throw TargetRefusal.refused("no such machine for this session") }
    ///     return HostPort(host: machine.address, port: 5900)
    /// }
    /// let server = PurrServer(listen: HostPort(host: "127.0.0.1", port: 8080), routes: [consoles], group: group)
    /// try await server.start()
    /// ```
    public init(
        path: String, allow: AllowList, host: String? = nil, token: String? = nil,
        choose: @escaping ClosureTargetSource.Choose
    ) throws(ConfigError) {
        try self.init(
            path: path, target: .source(ClosureTargetSource(choose), summary: "application"), allow: allow, token: token, host: host)
    }
}

extension PurrServer {
    /// A server for an application that embeds Purr: it runs on the application's own event loop group
    /// (beside its own listeners), with the given routes, and the default settings otherwise. Call
    /// `start()` to listen and `shutdown(drainTimeout:)` to stop; the group stays the application's.
    public convenience init(
        listen: HostPort, routes: [Route], group: any EventLoopGroup, logger: Logger = Logger(label: "purr-server")
    ) {
        var config = ServerConfig()
        config.listen = listen
        config.routes = routes
        self.init(config: config, group: group, logger: logger)
    }
}
