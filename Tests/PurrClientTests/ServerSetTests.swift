import PurrTestSupport
import XCTest

@testable import PurrClient

/// The test support's seeded generator as a `RandomNumberGenerator`.
struct SeededGenerator: RandomNumberGenerator {
    var seeded: SeededRandom
    init(_ seed: UInt64) { seeded = SeededRandom(state: seed) }
    mutating func next() -> UInt64 { seeded.next() }
}

/// The choice of server and the health bookkeeping, without sockets or clocks.
final class ServerSetTests: XCTestCase {
    private var random = SeededGenerator(26)
    private let refused = HandshakeFailure(kind: .connect, "connection refused by 127.0.0.1:1")

    private func refusal(_ status: Int) -> HandshakeFailure {
        HandshakeFailure(kind: .refused, status: status, reason: "x", detail: "words", "server answered \(status)")
    }

    func testFailoverTakesTheFirstHealthyInOrder() {
        var set = ServerSet(count: 3, choice: .failover)
        XCTAssertEqual(set.pick(tried: 0), 0)
        XCTAssertEqual(set.pick(tried: 0b001), 1, "after the first failed, the next in order")
        XCTAssertEqual(set.pick(tried: 0b011), 2)
        XCTAssertNil(set.pick(tried: 0b111), "every server tried")
    }

    func testConsecutiveFailuresMarkDownAndTheNextServerTakesNewConnections() {
        var set = ServerSet(count: 2, choice: .failover)
        XCTAssertEqual(set.failed(0, refused, now: 0, random: &random).verdict, .retry)
        XCTAssertEqual(set.servers[0].health, .up, "one failure is not enough")
        let second = set.failed(0, refused, now: 1, random: &random)
        XCTAssertEqual(second.verdict, .retry)
        XCTAssertEqual(second.action, .pausePool(0), "down: its pool stops filling")
        XCTAssertEqual(set.servers[0].health, .down)
        XCTAssertEqual(set.pick(tried: 0), 1)
        XCTAssertEqual(set.connected(1, seconds: 0.01), .none)
        XCTAssertEqual(set.servers[0].failures, 2)
    }

    func testASuccessResetsTheRun() {
        var set = ServerSet(count: 2, choice: .failover)
        _ = set.failed(0, refused, now: 0, random: &random)
        _ = set.connected(0, seconds: 0.01)
        _ = set.failed(0, refused, now: 1, random: &random)
        XCTAssertEqual(set.servers[0].health, .up, "failures must be in a row")
    }

    func testDrainingMarksAtOnceAndMovesOn() {
        var set = ServerSet(count: 2, choice: .failover)
        let result = set.failed(0, refusal(503), now: 0, random: &random)
        XCTAssertEqual(result.verdict, .draining)
        XCTAssertEqual(result.action, .pausePool(0))
        XCTAssertEqual(set.servers[0].health, .draining)
        XCTAssertEqual(set.pick(tried: 0), 1)
    }

    func testRefusalsAreAnswersNotRetried() {
        for status in [400, 401, 403, 404, 500] {
            var set = ServerSet(count: 2, choice: .failover)
            XCTAssertEqual(set.failed(0, refusal(status), now: 0, random: &random).verdict, .answer, "\(status)")
            XCTAssertEqual(set.servers[0].health, .up, "\(status): it answered, it is there")
        }
        for status in [502, 504] {
            XCTAssertEqual(ServerSet.verdict(refusal(status)), .retry, "\(status)")
        }
        for kind in [HandshakeFailure.Kind.connect, .tls, .timeout, .closed, .badAnswer, .proxy] {
            XCTAssertEqual(ServerSet.verdict(HandshakeFailure(kind: kind, "x")), .retry, "\(kind)")
        }
        XCTAssertEqual(ServerSet.verdict(HandshakeFailure("cannot send the request")), .answer)
    }

    func testAllDownStillTriesThemInOrder() {
        var set = ServerSet(count: 3, choice: .spread)
        for index in 0..<3 {
            _ = set.failed(index, refused, now: 0, random: &random)
            _ = set.failed(index, refused, now: 0, random: &random)
        }
        XCTAssertTrue(set.servers.allSatisfy { $0.health == .down })
        XCTAssertEqual(set.pick(tried: 0), 0, "stale health never refuses an app")
        XCTAssertEqual(set.pick(tried: 0b001), 1)
        XCTAssertEqual(set.connected(1, seconds: 0.02), .resumePool(1), "a connection that gets through brings it back")
        XCTAssertEqual(set.servers[1].health, .up)
        XCTAssertEqual(set.pick(tried: 0), 1, "now the healthy one first")
    }

    func testSpreadTakesFewestActiveThenTurns() {
        var set = ServerSet(count: 2, choice: .spread)
        var counts = [0, 0]
        for _ in 0..<1000 {
            let index = set.pick(tried: 0)!
            counts[index] += 1
            _ = set.connected(index, seconds: index == 0 ? 0.010 : 0.012)
            set.ended(index)
        }
        XCTAssertEqual(counts, [500, 500], "equal servers take turns")
        let first = set.pick(tried: 0)!
        XCTAssertEqual(set.pick(tried: 0), 1 - first, "the busier one waits")
    }

    func testSpreadPrefersAClearlyFasterServerOnTies() {
        var set = ServerSet(count: 2, choice: .spread)
        _ = set.connected(0, seconds: 0.2)
        _ = set.connected(1, seconds: 0.01)
        set.ended(0)
        set.ended(1)
        XCTAssertEqual(set.pick(tried: 0), 1)
        set.ended(1)
        XCTAssertEqual(set.pick(tried: 0), 1, "still the faster one while both are idle")
        XCTAssertEqual(set.pick(tried: 0), 0, "but not past fewer active connections")
    }

    func testBackoffGrowsWithJitterUpToTheCap() {
        let set = ServerSet(count: 2, choice: .failover)
        var previous = 0.0
        for attempt in 0..<5 {
            let delay = set.delay(attempt, random: &random)
            let base = min(30, Double(1 << attempt))
            XCTAssertTrue((base * 0.8...base * 1.2).contains(delay), "attempt \(attempt): \(delay)")
            XCTAssertGreaterThan(delay, previous)
            previous = delay
        }
        for attempt in [6, 10, 40] {
            XCTAssertLessThanOrEqual(set.delay(attempt, random: &random), 30)
            XCTAssertGreaterThanOrEqual(set.delay(attempt, random: &random), 24)
        }
        var other = SeededGenerator(99)
        let spread = Set((0..<20).map { _ in set.delay(3, random: &other) })
        XCTAssertGreaterThan(spread.count, 10, "jitter: clients do not probe in lockstep")
    }

    func testProbesComeDueAndBringServersBack() {
        var set = ServerSet(count: 2, choice: .failover)
        _ = set.failed(0, refused, now: 100, random: &random)
        _ = set.failed(0, refused, now: 100, random: &random)
        let at = set.servers[0].retryAt!
        XCTAssertEqual(set.probesDue(now: at - 0.01), [])
        XCTAssertEqual(set.nextProbe, at)
        XCTAssertEqual(set.probesDue(now: at), [0])
        XCTAssertEqual(set.probesDue(now: at + 1), [], "one probe at a time")
        XCTAssertEqual(set.probed(0, .failed("connection refused"), now: at, random: &random), .none)
        let later = set.servers[0].retryAt!
        XCTAssertGreaterThan(later - at, 1.5, "the pause grew")
        XCTAssertEqual(set.probesDue(now: later), [0])
        XCTAssertEqual(set.probed(0, .draining, now: later, random: &random), .none)
        XCTAssertEqual(set.servers[0].health, .draining)
        XCTAssertEqual(set.probesDue(now: later + 100), [0])
        XCTAssertEqual(set.probed(0, .up, now: later + 100, random: &random), .resumePool(0))
        XCTAssertEqual(set.servers[0].health, .up)
        XCTAssertEqual(set.pick(tried: 0), 0, "back: it takes new connections again")
    }

    func testProbeStatusMeanings() {
        XCTAssertEqual(ServerProbe.result(status: 200), .up)
        XCTAssertEqual(ServerProbe.result(status: 404), .up, "no /healthz (the Ruby server): it answered")
        XCTAssertEqual(ServerProbe.result(status: 503), .draining)
        XCTAssertEqual(ServerProbe.result(status: 502), .failed("GET /healthz answered 502"))
    }

    func testSnapshotListsEveryServer() throws {
        var set = ServerSet(count: 2, choice: .failover)
        _ = set.pick(tried: 0)
        _ = set.failed(0, refusal(503), now: 10, random: &random)
        _ = set.pick(tried: 1)
        _ = set.connected(1, seconds: 0.05)
        let now = Date()
        let list = set.snapshot(urls: [try ServerURL(parsing: "http://a/"), try ServerURL(parsing: "http://b:8080/")], now: 10, date: now)
        XCTAssertEqual(list.map(\.health), [.draining, .up])
        XCTAssertEqual(list[1].active, 1)
        XCTAssertEqual(list[1].total, 1)
        XCTAssertEqual(list[0].failures, 1)
        XCTAssertEqual(list[0].lastError, "server answered 503")
        XCTAssertNotNil(list[0].retryAt)
        XCTAssertEqual(list[1].connectSeconds, 0.05)
        XCTAssertEqual(list.map(\.host), ["a", "b"], "from each ServerURL, not read back from the shown text")
        XCTAssertEqual(list.map(\.port), [80, 8080])
    }

    /// A server whose /healthz says up but whose connections fail (its route's target is down: 502) goes
    /// out again at the first failure, and its pauses keep growing until a connection gets through.
    func testAProbeUpDoesNotResetTheBackoff() {
        var set = ServerSet(count: 2, choice: .failover)
        let badGateway = refusal(502)
        var now = 0.0
        _ = set.failed(0, badGateway, now: now, random: &random)
        _ = set.failed(0, badGateway, now: now, random: &random)
        var pauses: [Double] = []
        for _ in 0..<7 {
            let at = set.servers[0].retryAt!
            pauses.append(at - now)
            now = at
            XCTAssertEqual(set.probesDue(now: now), [0])
            XCTAssertEqual(set.probed(0, .up, now: now, random: &random), .resumePool(0))
            XCTAssertEqual(set.pick(tried: 0), 0)
            XCTAssertEqual(set.failed(0, badGateway, now: now, random: &random).action, .pausePool(0), "one failure on probation")
            XCTAssertEqual(set.servers[0].health, .down)
        }
        for (index, pause) in pauses.enumerated() {
            let base = min(30, Double(1 << index))
            XCTAssertTrue((base * 0.8...base * 1.2).contains(pause), "pause \(index): \(pause) in \(pauses)")
        }
        XCTAssertGreaterThanOrEqual(pauses.last!, 24, "capped near 30 s: \(pauses)")
        // A connection that gets through ends it all.
        now = set.servers[0].retryAt!
        _ = set.probesDue(now: now)
        _ = set.probed(0, .up, now: now, random: &random)
        _ = set.connected(0, seconds: 0.01)
        _ = set.failed(0, badGateway, now: now, random: &random)
        XCTAssertEqual(set.servers[0].health, .up, "off probation: two in a row again")
        _ = set.failed(0, badGateway, now: now, random: &random)
        XCTAssertEqual(set.servers[0].retryAt.map { $0 - now }.map { (0.8...1.2).contains($0) }, true, "the pause starts over")
    }

    /// A hung server (accepts, never answers) is passed over once its oldest attempt waited past the stall
    /// limit, before any timeout marks it down; it takes connections again once attempts complete.
    func testAServerWithAStalledAttemptIsPassedOver() {
        var set = ServerSet(count: 2, choice: .failover)
        XCTAssertEqual(set.pick(tried: 0, now: 10), 0)
        XCTAssertEqual(set.pick(tried: 0, now: 11), 0, "a second is not a stall")
        XCTAssertFalse(set.isStalled(0, now: 12))
        XCTAssertEqual(set.pick(tried: 0, now: 12.5), 1, "the oldest attempt waits 2.5 s: the next server")
        XCTAssertEqual(set.servers[0].health, .up, "not down: no failure yet")
        _ = set.failed(0, HandshakeFailure(kind: .timeout, "no answer"), startedAt: 10, now: 25, random: &random)
        XCTAssertTrue(set.isStalled(0, now: 25), "the attempt of 11 still waits")
        _ = set.connected(0, seconds: 14.5, startedAt: 11)
        XCTAssertFalse(set.isStalled(0, now: 25))
        XCTAssertEqual(set.servers[0].pending, [])
        XCTAssertEqual(set.pick(tried: 0, now: 26), 0, "nothing waits: first again")
        // A slow server's usual connect time raises the limit: four times it.
        var slow = ServerSet(count: 2, choice: .failover)
        _ = slow.pick(tried: 0, now: 0)
        _ = slow.connected(0, seconds: 1.5, startedAt: 0)
        _ = slow.pick(tried: 0, now: 100)
        XCTAssertEqual(slow.pick(tried: 0, now: 105), 0, "5 s is under 4 x 1.5 s")
        XCTAssertEqual(slow.pick(tried: 0, now: 106.5), 1)
    }

    /// A 101 the client rejects (or any answer it cannot read) after the app's early bytes went out may
    /// come after they reached a target: not retried then. Without early bytes it is retried.
    func testAnUnreadableAnswerAfterEarlyBytesIsNotRetried() {
        let bad101 = HandshakeFailure(kind: .badAnswer, "server answered 101 without Purr-Request")
        XCTAssertEqual(ServerSet.verdict(bad101), .retry)
        XCTAssertEqual(ServerSet.verdict(bad101, sentEarly: true), .answer)
        XCTAssertEqual(ServerSet.verdict(refusal(502), sentEarly: true), .retry, "a 502 comes before the bytes go on")
        XCTAssertEqual(ServerSet.verdict(refusal(503), sentEarly: true), .draining)
        var set = ServerSet(count: 2, choice: .failover)
        XCTAssertEqual(set.failed(0, bad101, sentEarly: true, now: 0, random: &random).verdict, .answer)
        XCTAssertEqual(set.servers[0].failures, 1, "it still counts against the server")
        XCTAssertEqual(set.servers[0].lastError, bad101.description)
    }
}
