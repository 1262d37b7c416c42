import PurrCore
import Synchronization

/// The resolver's answers, each kept for the ttl it came with, for requests that send the resolver the
/// same route, host, path, token and selected headers. Bounded: when full, expired answers go first,
/// then those closest to expiring.
final class ResolverCache: Sendable {
    struct Key: Hashable, Sendable {
        var route: String
        var host: String?
        var path: String
        var token: String?
        var headers: [String: String]

        init(_ document: ResolverDocument) {
            route = document.route
            host = document.host
            path = document.path
            token = document.token
            headers = document.headers
        }
    }

    private struct Entry {
        var target: HostPort
        var expires: ContinuousClock.Instant
    }

    let capacity: Int
    private let entries = Mutex<[Key: Entry]>([:])

    init(capacity: Int = 4096) {
        self.capacity = capacity
    }

    var count: Int { entries.withLock { $0.count } }

    func lookup(_ key: Key, now: ContinuousClock.Instant = .now) -> HostPort? {
        entries.withLock { entries in
            guard let entry = entries[key] else { return nil }
            guard entry.expires > now else {
                entries[key] = nil
                return nil
            }
            return entry.target
        }
    }

    func store(_ target: HostPort, for key: Key, ttl: Double, now: ContinuousClock.Instant = .now) {
        guard ttl > 0, capacity > 0 else { return }
        let expires = now + .milliseconds(Int64(ttl * 1000))
        entries.withLock { entries in
            if entries[key] == nil && entries.count >= capacity {
                entries = entries.filter { $0.value.expires > now }
                if entries.count >= capacity, let soonest = entries.min(by: { $0.value.expires < $1.value.expires }) {
                    entries[soonest.key] = nil
                }
            }
            entries[key] = Entry(target: target, expires: expires)
        }
    }
}
