// An application that embeds Purr: its own HTTP endpoint and Purr tunnels on one event loop group,
// sharing the application's state. `GET /login?machine=NAME` on the HTTP endpoint hands out a
// one-time ticket; a tunnel to `/console/NAME` that presents it (Authorization: Bearer, Purr-Token or
// ?token=) reaches that machine. Everything else is refused. The analogue of the original Rack block.
//
//     purr-embed-example --http 127.0.0.1:8081 --purr 127.0.0.1:8080 web=10.0.0.5:5900 db=10.0.0.6:5432
import NIOCore
import NIOHTTP1
import NIOPosix
import PurrCore
import PurrServer

let options = ExampleOptions(CommandLine.arguments.dropFirst())
let tickets = Tickets()
let group = MultiThreadedEventLoopGroup(numberOfThreads: 2)

// The application's own HTTP routes (plain NIOHTTP1 here; Hummingbird or Vapor would do the same).
let http = try await ServerBootstrap(group: group)
    .childChannelInitializer { channel in
        channel.pipeline.configureHTTPServerPipeline().flatMapThrowing {
            try channel.pipeline.syncOperations.addHandler(LoginHandler(tickets: tickets, machines: options.machines))
        }
    }
    .bind(host: options.http.host, port: options.http.port).get()

// Purr, on the same group, choosing each tunnel's target from the application's state.
let consoles = try Route(path: "/console/{machine}", allow: AllowList(options.allow)) { request in
    guard let name = request.captures["machine"], let target = options.machines[name] else {
        throw TargetRefusal.refused("no such machine", status: 404)
    }
    guard let ticket = request.token, tickets.redeem(ticket, for: name) else {
        throw TargetRefusal.refused("no valid ticket for \(name) (GET /login?machine=\(name) first)", status: 401)
    }
    return target
}
let purr = PurrServer(listen: options.purr, routes: [consoles], group: group)
try await purr.start()

// Until SIGTERM or SIGINT (through swift-service-lifecycle); the lines go out once those are trapped.
let addresses = ["http on \(http.localAddress?.hostPortDescription ?? "?")", "purr on \(purr.localAddress?.hostPortDescription ?? "?")"]
try await ProcessLifecycle.run(
    start: { for line in addresses { CommandLineSupport.printLine(line) } },
    stop: { await purr.shutdown(drainTimeout: 2) })
try await http.close().get()
try await group.shutdownGracefully()
