import NIOCore
import NIOPosix
import Synchronization

/// Keeps demo clients connected to their tunnels (reconnecting after a tunnel is closed and reopened).
final class DemoTraffic: Sendable {
    struct Client: Sendable {
        let tunnel: String
        let burst: Int
        /// Seconds between connection attempts when each connection is short-lived (a failing route).
        let everySeconds: Int
    }

    let group: any EventLoopGroup
    let clients: [Client]
    private let connected = Mutex<[String: any Channel]>([:])
    private let tick = Atomic<Int>(0)

    init(group: any EventLoopGroup, clients: [Client]) {
        self.group = group
        self.clients = clients
    }

    /// Called once a second with each tunnel's local port (nil while it is not listening).
    func maintain(ports: [String: Int]) {
        let now = tick.wrappingAdd(1, ordering: .relaxed).newValue
        for client in clients {
            let alive = connected.withLock { $0[client.tunnel]?.isActive ?? false }
            guard !alive, let port = ports[client.tunnel], now % client.everySeconds == 0 else { continue }
            let burst = client.burst
            ClientBootstrap(group: group)
                .channelInitializer { channel in
                    channel.eventLoop.makeCompletedFuture {
                        try channel.pipeline.syncOperations.addHandler(
                            RepeatingWriterHandler(chunk: burst, every: .milliseconds(250), startAfter: .milliseconds(100)))
                    }
                }
                .connect(host: "127.0.0.1", port: port)
                .whenSuccess { channel in self.connected.withLock { $0[client.tunnel] = channel } }
        }
    }

    func stop() {
        for channel in connected.withLock({ Array($0.values) }) { channel.close(promise: nil) }
    }
}
