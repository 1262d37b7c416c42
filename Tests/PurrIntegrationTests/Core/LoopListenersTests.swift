import NIOCore
import NIOPosix
import PurrCore
import PurrTestSupport
import Synchronization
import XCTest

#if canImport(Glibc)
    import Glibc
#endif

/// One listener per event loop: each loop accepts and serves its own connections, and the shared port
/// still refuses a second server.
final class LoopListenersTests: XCTestCase {
    func testEveryLoopAcceptsOnTheSamePortAndServesOnItself() async throws {
        let group = MultiThreadedEventLoopGroup(numberOfThreads: 2)
        let served = Mutex<[ObjectIdentifier: Int]>([:])
        let wrongLoop = Atomic<Int>(0)
        let listeners = try await LoopListeners.bind(group: group, host: "127.0.0.1", port: 0) { loop in
            ServerBootstrap(group: loop, childGroup: loop)
                .childChannelInitializer { channel in
                    if !channel.eventLoop.inEventLoop || !(channel.eventLoop === loop) { wrongLoop.add(1, ordering: .relaxed) }
                    served.withLock { $0[ObjectIdentifier(loop), default: 0] += 1 }
                    return channel.eventLoop.makeSucceededVoidFuture()
                }
        }
        XCTAssertEqual(listeners.count, 2)
        let port = try XCTUnwrap(listeners[0].localAddress?.port)
        XCTAssertEqual(listeners[1].localAddress?.port, port, "port 0: the others take the first one's port")
        // The kernel spreads connections by their addresses: within 200 both loops have had some.
        var clients: [BlockingSocket] = []
        for _ in 0..<200 where served.withLock({ $0.count }) < 2 {
            clients.append(try BlockingSocket(port: port))
            _ = TestKit.poll(timeout: 2) { served.withLock { $0.values.reduce(0, +) } == clients.count }
        }
        XCTAssertEqual(served.withLock { $0.count }, 2, "both loops accepted connections")
        XCTAssertEqual(wrongLoop.load(ordering: .relaxed), 0, "each connection is served by the loop that accepted it")
        for client in clients { client.close() }

        // A second set of listeners (another server) on the port fails as a plain bind would.
        do {
            let intruders = try await LoopListeners.bind(group: group, host: "127.0.0.1", port: port) {
                ServerBootstrap(group: $0, childGroup: $0)
            }
            for channel in intruders { try? await channel.close() }
            XCTFail("a second server bound the port")
        } catch let error as IOError {
            XCTAssertEqual(error.errnoCode, EADDRINUSE)
        }
        for channel in listeners { try await channel.close() }
        // Closed: the port is free again for a plain listener.
        let again = try await ServerBootstrap(group: group).bind(host: "127.0.0.1", port: port).get()
        try await again.close()
        try await group.shutdownGracefully()
    }

    func testAPortHeldByAnotherProgramIsInUse() async throws {
        let group = MultiThreadedEventLoopGroup(numberOfThreads: 2)
        let other = LoopbackListener.open()  // listening, without SO_REUSEPORT
        defer { Glibc.close(other.fd) }
        do {
            let channels = try await LoopListeners.bind(group: group, host: "127.0.0.1", port: other.port) {
                ServerBootstrap(group: $0, childGroup: $0)
            }
            for channel in channels { try? await channel.close() }
            XCTFail("bound a port another program listens on")
        } catch let error as IOError {
            XCTAssertEqual(error.errnoCode, EADDRINUSE)
        }
        try await group.shutdownGracefully()
    }
}
