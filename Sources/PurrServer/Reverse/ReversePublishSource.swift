import PurrCore

/// The `publish` route of a `[[reverse]]` entry: its target is the entry's own listener, so a Purr
/// client that opens the route takes a held request like any published connection. While no client
/// has the name registered, the route is refused with 503 and why (nothing is connected).
struct ReversePublishSource: TargetSource {
    let slot: ReverseSlot
    let name: String
    let path: String

    init(entry: ReverseEntry) {
        slot = entry.slot
        name = entry.name
        path = entry.path
    }

    func target(for request: TargetRequest) async throws(TargetRefusal) -> HostPort {
        guard slot.isRegistered, let address = slot.publishedAddress else {
            throw TargetRefusal(
                status: 503, message: "no client has exposed \(name) (it registers at \(path))", reason: "reverse_unregistered")
        }
        // A wildcard listen address is reached on loopback.
        switch address.host {
        case "0.0.0.0": return HostPort(host: "127.0.0.1", port: address.port)
        case "::", "[::]": return HostPort(host: "::1", port: address.port)
        default: return address
        }
    }
}
