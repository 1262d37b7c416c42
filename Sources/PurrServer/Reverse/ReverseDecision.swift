import NIOCore
import NIOHTTP1
import PurrCore

extension ServerSettings {
    /// A request to a `[[reverse]]` entry's path, or one naming a reverse (`Purr-Reverse`): admitted as a
    /// held request (`.held`), or refused (unknown name, wrong token, the entry's limits). nil: neither,
    /// an ordinary request.
    func reverseDecision(_ head: HTTPRequestHead, _ request: UpgradeRequest, record: ConnectionRecord?, peer: SocketAddress?)
        -> UpgradeStateMachine.Decision?
    {
        let named = head.value(of: ReverseWire.nameHeader)
        let entry = reverses.first { $0.path == request.routePath }
        guard named != nil || entry != nil else { return nil }
        guard let named else {
            return .refuse(
                .badRequest("\(request.routePath.printableLine) is where a reverse tunnel registers: send \(ReverseWire.nameHeader): NAME"))
        }
        guard let entry, entry.name == named else {
            return .refuse(.notFound("no reverse tunnel named \(named.printableLine) at \(request.routePath.printableLine)", .noRoute))
        }
        if let expected = entry.token {
            guard let presented = request.token else {
                return .refuse(.unauthorized("reverse \(entry.name) needs a token (Authorization: Bearer TOKEN)"))
            }
            guard ConstantTime.equals(presented, expected) else { return .refuse(.unauthorized("wrong token for reverse \(entry.name)")) }
        }
        let route = entry.registrationRoute
        if let record { registry.routed(record, to: route) }
        // A client names itself so its held requests count together; else its address does.
        let clientID =
            head.value(of: ReverseWire.clientHeader).flatMap(StatsRegistry.acceptableClientID) ?? peer?.ipAddress ?? "?"
        switch entry.slot.admit(clientID: clientID, record: record) {
        case .held(let hold): return .accept(route, request, .held(hold))
        case .refused(let refusal): return .refuse(refusal)
        }
    }
}

extension ReverseEntry {
    /// The registration path as a route, for stats (its connections: held requests and their relays).
    var registrationRoute: Route {
        // Built from validated parts: it cannot fail.
        (try? Route(
            path: path,
            target: .source(ReversePublishSource(entry: self, headerTimeout: waitTimeout), summary: "reverse \(name) (held requests)"),
            allow: AllowList(["127.0.0.1:1-65535"])))!
    }
}

/// The headers of a reverse registration.
public enum ReverseWire {
    /// The name the client registers (`[[reverse]] name`).
    public static let nameHeader = "Purr-Reverse"
    /// The registering client's id (random per process), so its held requests count as one client.
    public static let clientHeader = "Purr-Reverse-Client"
}
