import NIOHTTP1
import PurrCore
import PurrTestSupport
import XCTest

@testable import PurrServer

/// Deciding what a head gets writes nothing; admitting it counts it against its route, where the route's
/// limit is checked (no sockets).
final class RouteDecisionTests: XCTestCase {
    func makeSettings(_ routes: [Route]) -> ServerSettings {
        var config = ServerConfig()
        config.routes = routes
        return ServerSettings(
            routes: RouteTable(routes), registry: StatsRegistry(routes: routes, listen: "test"), peers: PeerLimiter(),
            logger: InProcessServer.quietLogger, config: config)
    }

    func head(_ path: String, token: String? = nil) -> HTTPRequestHead {
        var headers: HTTPHeaders = [
            "Host": "example", "Upgrade": "purr", "Connection": "Upgrade", "Purr-Request": "MEOW", "Purr-Version": "0.1.2",
        ]
        if let token { headers.add(name: "Authorization", value: "Bearer \(token)") }
        return HTTPRequestHead(version: .http1_1, method: .GET, uri: path, headers: headers)
    }

    func routeCounts(_ settings: ServerSettings) -> [Int] {
        settings.registry.snapshot().routes.map { $0.total }
    }

    func testDecidingCountsNothing() throws {
        var limited = try Route(path: "/t", target: HostPort(host: "127.0.0.1", port: 1))
        limited.maxConnections = 1
        limited.token = "s3cret"
        let settings = makeSettings([limited])
        for _ in 0..<3 {
            guard case .accept = settings.decide(head("/t", token: "s3cret")) else { return XCTFail("accepted") }
            guard case .refuseOnRoute = settings.decide(head("/t", token: "wrong")) else { return XCTFail("refused on its route") }
            guard case .refuse = settings.decide(head("/none")) else { return XCTFail("no route") }
        }
        XCTAssertEqual(routeCounts(settings), [0])
        XCTAssertEqual(settings.registry.activeCount, 0)
    }

    func testAdmittingCountsAndAppliesTheRouteLimit() throws {
        var limited = try Route(path: "/t", target: HostPort(host: "127.0.0.1", port: 1))
        limited.maxConnections = 1
        limited.token = "s3cret"
        let settings = makeSettings([limited])
        let first = settings.registry.open(peer: "127.0.0.1")
        guard case .accept = settings.admit(head("/t", token: "s3cret"), record: first) else { return XCTFail("the first is accepted") }
        let second = settings.registry.open(peer: "127.0.0.1")
        guard case .refuse(let refusal) = settings.admit(head("/t", token: "s3cret"), record: second) else {
            return XCTFail("the second is over the limit")
        }
        XCTAssertEqual(refusal.status, 503)
        // A wrong token is refused as such, not as over the limit, and still counted against the route.
        let third = settings.registry.open(peer: "127.0.0.1")
        guard case .refuse(let wrong) = settings.admit(head("/t", token: "wrong"), record: third) else { return XCTFail("refused") }
        XCTAssertEqual(wrong.status, 401)
        XCTAssertEqual(routeCounts(settings), [3])
    }
}
