import Foundation
import PurrCore

/// The `publish` route of a `[[reverse]]` entry: its target is the entry's own listener, so a Purr
/// client that opens the route takes a held request like any published connection. The route answers
/// only once a held request is free for it (so its 101 is not followed by a refusal): while no client
/// has the name registered it is refused with 503 and why at once; while the client's held requests are
/// all busy it waits, at most `maxWait` seconds, then 503 too.
struct ReversePublishSource: TargetSource {
    let slot: ReverseSlot
    let name: String
    let path: String
    /// `wait_timeout`, kept below the server's header timeout (the deadline of every target lookup).
    let maxWait: Double

    init(entry: ReverseEntry, headerTimeout: Double) {
        slot = entry.slot
        name = entry.name
        path = entry.path
        maxWait = min(entry.waitTimeout, headerTimeout * 0.8)
    }

    func target(for request: TargetRequest) async throws(TargetRefusal) -> HostPort {
        let deadline = ContinuousClock.now + .milliseconds(Int(maxWait * 1000))
        while true {
            guard slot.isRegistered, let address = slot.publishedAddress else {
                slot.count(refusal: "not_registered")
                throw TargetRefusal(
                    status: 503, message: "no client has exposed \(name) (it registers at \(path))", reason: "reverse_unregistered")
            }
            if slot.hasFreeHold { return Self.reachable(address) }
            // Busy: the client opens a new held request for each one used; look again shortly.
            guard ContinuousClock.now < deadline, (try? await Task.sleep(for: .milliseconds(10))) != nil else {
                slot.count(refusal: "wait_timeout")
                throw TargetRefusal(
                    status: 503, message: "no held request of \(name) was free within \(maxWait.formatted()) s", reason: "reverse_busy")
            }
        }
    }

    /// A wildcard listen address is reached on loopback.
    static func reachable(_ address: HostPort) -> HostPort {
        switch address.host {
        case "0.0.0.0": return HostPort(host: "127.0.0.1", port: address.port)
        case "::", "[::]": return HostPort(host: "::1", port: address.port)
        default: return address
        }
    }
}
