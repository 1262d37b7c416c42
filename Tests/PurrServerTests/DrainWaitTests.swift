import NIOCore
import NIOEmbedded
import Synchronization
import XCTest

@testable import PurrServer

/// The drain waits for the last close, or its timeout, without polling (no sockets: EmbeddedChannel).
final class DrainWaitTests: XCTestCase {
    /// An embedded channel's close completes its close future once its loop runs.
    func close(_ channel: EmbeddedChannel) {
        channel.close(promise: nil)
        channel.embeddedEventLoop.run()
    }

    func testNothingOpenIsDrainedAtOnce() async {
        let tracker = ChannelTracker()
        let drained = await tracker.waitUntilEmpty(timeout: .seconds(10))
        XCTAssertTrue(drained)
    }

    func testTheLastCloseWakesTheDrain() async {
        let tracker = ChannelTracker()
        let channels = [EmbeddedChannel(), EmbeddedChannel()]
        for channel in channels { tracker.add(channel) }
        let waiting = Task { await tracker.waitUntilEmpty(timeout: .seconds(10)) }
        close(channels[0])
        XCTAssertEqual(tracker.count, 1)
        close(channels[1])
        let drained = await waiting.value
        XCTAssertTrue(drained, "woken by the last close, long before the timeout")
        XCTAssertEqual(tracker.count, 0)
    }

    func testTheTimeoutEndsTheWaitWhileSomethingIsOpen() async {
        let tracker = ChannelTracker()
        let channel = EmbeddedChannel()
        tracker.add(channel)
        let drained = await tracker.waitUntilEmpty(timeout: .milliseconds(20))
        XCTAssertFalse(drained)
        XCTAssertEqual(tracker.closeAll(), 1)
        channel.embeddedEventLoop.run()
        XCTAssertEqual(tracker.count, 0)
    }

    /// Emptied between a waiter's registration and its own look: it is woken exactly once either way.
    func testManyWaitersAndEmptiesRacingAreAllWoken() async {
        let open = OpenCount()
        let waiters = EmptyWaiters()
        await withTaskGroup(of: Bool.self) { group in
            for _ in 0..<100 {
                group.addTask { await waiters.wait(timeout: .seconds(10)) { open.value.load(ordering: .relaxed) == 0 } }
            }
            group.addTask {
                open.value.store(0, ordering: .relaxed)
                waiters.emptied()
                return true
            }
            var woken = 0
            for await result in group where result { woken += 1 }
            XCTAssertEqual(woken, 101)
        }
    }
}

private final class OpenCount: Sendable {
    let value = Atomic<Int>(1)
}
