import Foundation

/// The servers of one tunnel with several: which one a new connection tries next, and the health each
/// one earned. A pure value: the caller gives the time (seconds on any steady clock) and the randomness,
/// performs what it decides (dial, probe, pause or start a server's pool) and reports back.
struct ServerSet {
    struct Settings {
        /// Connect errors, TLS failures, timeouts, 502s and 504s in a row that mark a server down.
        var failuresToDown = 2
        /// The first pause before a down server is probed; it doubles per probe that fails, up to `backoffCap`.
        var backoffInitial = 1.0
        var backoffCap = 30.0
        /// Each pause is stretched or shrunk by up to this fraction, so clients do not probe in lockstep.
        var jitter = 0.2
        /// A server whose oldest attempt waits longer than this (or 4 times its recent connect time, if
        /// more) for its 101 is passed over for new connections: a hung server would otherwise hold each
        /// of them for the whole handshake timeout before two timeouts mark it down.
        var stallAfter = 2.0
    }

    /// What one failed attempt means.
    enum Verdict: Equatable {
        /// The server could not be reached or could not serve: try the next one.
        case retry
        /// It answered 503 (draining, or overloaded): skip it until a probe says otherwise, try the next one.
        case draining
        /// It answered (401, 403, 404, ...): that is the answer, not a reason to ask another server.
        case answer
    }

    /// What a probe (`GET /healthz` while a server is down or draining) found.
    enum ProbeResult: Equatable {
        /// 200, or any answer but 502/503/504 (a server without /healthz answers 404: it is there).
        case up
        case draining
        case failed(String)
    }

    /// What the caller does after reporting.
    enum Action: Equatable {
        case none
        /// The server went down or started draining: stop keeping connections ready for it.
        case pausePool(Int)
        /// It came back: fill its pool again.
        case resumePool(Int)
    }

    struct Server {
        var health: ServerHealthSnapshot.Health = .up
        /// Attempts in flight and relays running on it.
        var active = 0
        var total = 0
        var failures = 0
        var consecutiveFailures = 0
        var lastError: String?
        /// A down or draining server: when to probe it next.
        var retryAt: Double?
        /// The backoff's exponent: times it was marked out or failed a probe since a connection last got
        /// through. A probe's "up" does not reset it: a server whose /healthz is fine but whose route
        /// fails (a 502) would otherwise flap up and down every second.
        var backoffLevel = 0
        /// Up again by a probe, no connection through yet: one failure marks it out again.
        var probation = false
        var probing = false
        /// Recent connect time to the 101 (a moving average), seconds.
        var connectSeconds: Double?
        /// When it was last picked (a sequence number): spreading takes turns among equals.
        var lastPicked: UInt64 = 0
        /// When each attempt waiting for its 101 started.
        var pending: [Double] = []
    }

    let choice: ServerChoice
    let settings: Settings
    private(set) var servers: [Server]
    private var sequence: UInt64 = 0

    init(count: Int, choice: ServerChoice, settings: Settings = Settings()) {
        self.choice = choice
        self.settings = settings
        self.servers = Array(repeating: Server(), count: count)
    }

    /// `sentEarly`: the app's bytes went out behind the request. A server refuses before it passes them on
    /// (a 502, a 503); but an answer the client cannot read, a 101 it rejects above all, may have come
    /// after they reached a target: asking another server could deliver them twice.
    static func verdict(_ failure: HandshakeFailure, sentEarly: Bool = false) -> Verdict {
        switch failure.kind {
        case .badAnswer:
            return sentEarly ? .answer : .retry
        case .connect, .tls, .timeout, .closed, .proxy:
            return .retry
        case .local:
            return .answer
        case .refused:
            switch failure.status {
            case 503: return .draining
            case 502, 504: return .retry
            default: return .answer
            }
        }
    }

    // MARK: Choosing

    /// The server a connection tries next, given the ones it tried (bit `i`: server `i`); nil when it
    /// tried them all. Healthy ones first (`choice`); when none is left, the others in the list's order:
    /// stale health never refuses an app. The pick counts as active until `failed` or `ended`.
    mutating func pick(tried: UInt32, now: Double = 0) -> Int? {
        guard let index = healthyPick(tried: tried, now: now) ?? servers.indices.first(where: { tried & (1 << $0) == 0 }) else {
            return nil
        }
        sequence += 1
        servers[index].lastPicked = sequence
        servers[index].active += 1
        servers[index].pending.append(now)
        return index
    }

    /// Whether a server's oldest attempt has waited for its 101 far longer than it takes.
    func isStalled(_ index: Int, now: Double) -> Bool {
        let server = servers[index]
        guard let oldest = server.pending.min() else { return false }
        return now - oldest > max(settings.stallAfter, 4 * (server.connectSeconds ?? 0))
    }

    private func healthyPick(tried: UInt32, now: Double) -> Int? {
        let candidates = servers.indices.filter { tried & (1 << $0) == 0 && servers[$0].health == .up && !isStalled($0, now: now) }
        guard choice == .spread, candidates.count > 1 else { return candidates.first }
        // Fewest active; among those, the clearly faster (a third under the rest); then whoever waited longest.
        let fewest = candidates.map { servers[$0].active }.min()!
        let least = candidates.filter { servers[$0].active == fewest }
        let fastest = least.compactMap { servers[$0].connectSeconds }.min() ?? 0
        let quick = least.filter { (servers[$0].connectSeconds ?? 0) <= fastest * 1.5 + 0.001 }
        return quick.min { servers[$0].lastPicked < servers[$1].lastPicked }
    }

    // MARK: Reports

    /// An attempt (picked at `startedAt`) ended.
    private mutating func settle(_ index: Int, startedAt: Double?) {
        if let startedAt, let at = servers[index].pending.firstIndex(of: startedAt) {
            servers[index].pending.remove(at: at)
        } else if !servers[index].pending.isEmpty {
            servers[index].pending.removeFirst()
        }
    }

    /// The 101 came after `seconds`: the server is up and a relay runs on it.
    mutating func connected(_ index: Int, seconds: Double, startedAt: Double? = nil) -> Action {
        settle(index, startedAt: startedAt)
        var server = servers[index]
        let wasOut = server.health != .up
        server.total += 1
        server.consecutiveFailures = 0
        server.health = .up
        server.retryAt = nil
        server.backoffLevel = 0
        server.probation = false
        server.connectSeconds = server.connectSeconds.map { $0 * 0.7 + seconds * 0.3 } ?? seconds
        servers[index] = server
        return wasOut ? .resumePool(index) : .none
    }

    /// The app left before the server answered: the attempt ends without saying anything about the server.
    mutating func abandoned(_ index: Int, startedAt: Double? = nil) {
        settle(index, startedAt: startedAt)
        servers[index].active = max(0, servers[index].active - 1)
    }

    /// A relay on it ended.
    mutating func ended(_ index: Int) {
        servers[index].active = max(0, servers[index].active - 1)
    }

    /// An attempt failed before any relayed byte; `now` and `random` time the backoff.
    mutating func failed(
        _ index: Int, _ failure: HandshakeFailure, sentEarly: Bool = false, startedAt: Double? = nil, now: Double,
        random: inout some RandomNumberGenerator
    ) -> (verdict: Verdict, action: Action) {
        settle(index, startedAt: startedAt)
        let verdict = Self.verdict(failure, sentEarly: sentEarly)
        var server = servers[index]
        server.active = max(0, server.active - 1)
        var action = Action.none
        switch verdict {
        case .answer where failure.kind == .badAnswer:
            // Not retried (the early bytes), but not a healthy answer either.
            server.failures += 1
            server.consecutiveFailures += 1
            server.lastError = failure.description
        case .answer:
            // It answered: it is there.
            server.consecutiveFailures = 0
        case .draining:
            server.failures += 1
            server.lastError = failure.description
            if server.health == .up {
                action = .pausePool(index)
                server.retryAt = now + delay(server.backoffLevel, random: &random)
                server.backoffLevel += 1
            }
            server.health = .draining
        case .retry:
            server.failures += 1
            server.consecutiveFailures += 1
            server.lastError = failure.description
            let limit = server.probation ? 1 : settings.failuresToDown
            if server.health == .up && server.consecutiveFailures >= limit {
                server.health = .down
                server.retryAt = now + delay(server.backoffLevel, random: &random)
                server.backoffLevel += 1
                action = .pausePool(index)
            }
        }
        servers[index] = server
        return (verdict, action)
    }

    /// The down or draining servers whose probe is due; each is marked probing until `probed`.
    mutating func probesDue(now: Double) -> [Int] {
        var due: [Int] = []
        for index in servers.indices where servers[index].health != .up && !servers[index].probing {
            if let at = servers[index].retryAt, at <= now {
                servers[index].probing = true
                due.append(index)
            }
        }
        return due
    }

    /// The soonest a probe is due, if any server is out.
    var nextProbe: Double? {
        servers.filter { $0.health != .up && !$0.probing }.compactMap(\.retryAt).min()
    }

    /// What a probe found.
    mutating func probed(_ index: Int, _ result: ProbeResult, now: Double, random: inout some RandomNumberGenerator) -> Action {
        var server = servers[index]
        server.probing = false
        defer { servers[index] = server }
        guard server.health != .up else { return .none }  // a connection brought it back meanwhile
        switch result {
        case .up:
            server.health = .up
            server.consecutiveFailures = 0
            server.probation = true
            server.retryAt = nil
            return .resumePool(index)
        case .draining:
            server.health = .draining
        case .failed(let words):
            server.health = .down
            server.lastError = words
        }
        server.retryAt = now + delay(server.backoffLevel, random: &random)
        server.backoffLevel += 1
        return .none
    }

    /// The pause at backoff level `attempt`: doubling from `backoffInitial`, capped, with jitter.
    func delay(_ attempt: Int, random: inout some RandomNumberGenerator) -> Double {
        let base = min(settings.backoffCap, settings.backoffInitial * Double(1 << min(attempt, 20)))
        let factor = 1 + settings.jitter * (Double.random(in: 0...2, using: &random) - 1)
        return min(settings.backoffCap, base * factor)
    }

    // MARK: Reading

    /// The snapshot's list; `now` and `date` (the same moment) turn retry times into dates.
    /// Each server as shown: `urls` in list order (its redacted text, host and port come from it).
    func snapshot(urls: [ServerURL], now: Double, date: Date) -> [ServerHealthSnapshot] {
        servers.enumerated().map { index, server in
            let url = index < urls.count ? urls[index] : nil
            return ServerHealthSnapshot(
                index: index, url: url?.redacted ?? "?", health: server.health, active: server.active,
                total: server.total, failures: server.failures, consecutiveFailures: server.consecutiveFailures,
                lastError: server.lastError, retryAt: server.retryAt.map { date.addingTimeInterval($0 - now) },
                connectSeconds: server.connectSeconds, host: url?.host ?? "", port: url?.port ?? 0)
        }
    }
}
