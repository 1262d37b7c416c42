import Synchronization

/// Connections per peer address whose request head is not in yet (silent, or sending it), and held
/// reverse registrations: so one peer cannot take every slot with sockets that say nothing. What waits
/// on this server once a head is in (a target's connect, a held request for a published connection) and
/// relaying connections are not counted: behind a load balancer every user shares one address, and the
/// server-wide `max_connections` bounds those. Shared by every configuration generation, so a reload
/// keeps the counts.
final class PeerLimiter: Sendable {
    private let counts = Mutex<[String: Int]>([:])

    /// Counts one more connection from `peer`; returns how many it has now (this one included).
    func enter(_ peer: String) -> Int {
        counts.withLock { counts in
            let count = (counts[peer] ?? 0) + 1
            counts[peer] = count
            return count
        }
    }

    /// One connection of `peer` started relaying or closed.
    func leave(_ peer: String) {
        counts.withLock { counts in
            guard let count = counts[peer] else { return }
            if count <= 1 { counts.removeValue(forKey: peer) } else { counts[peer] = count - 1 }
        }
    }

    func count(of peer: String) -> Int { counts.withLock { $0[peer] ?? 0 } }
}
