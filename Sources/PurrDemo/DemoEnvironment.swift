import Foundation
import Logging
import NIOCore
import NIOPosix
import PurrClient
import PurrCore
import PurrServer

/// `purr-tui --demo`: a server with its admin endpoint, targets that move bytes, and four tunnels
/// through it (one through a slow hop, one to a route that does not exist), all inside this process and on loopback.
public final class DemoEnvironment: Sendable {
    public let file: TunnelsFile
    let server: PurrServer
    let admin: AdminServer
    let targets: [any Channel]
    let slowHop: DelayingRelay
    let traffic: DemoTraffic
    let timer: RepeatedTask

    public static func start(group: any EventLoopGroup, engine: TunnelEngine, logger: Logger) async throws -> DemoEnvironment {
        let stream = try await Self.target(group: group) {
            RepeatingWriterHandler(chunk: (3 << 20) / 10, every: .milliseconds(100), wave: true)
        }
        let echo = try await Self.target(group: group) { EchoHandler() }
        var config = ServerConfig()
        config.listen = HostPort(host: "127.0.0.1", port: 0)
        config.routes = [
            try Route(path: "/video", target: HostPort(host: "127.0.0.1", port: stream.localAddress!.port!)),
            try Route(path: "/ssh", target: HostPort(host: "127.0.0.1", port: echo.localAddress!.port!)),
        ]
        let server = PurrServer(config: config, group: group, logger: logger)
        try await server.start()
        let admin = AdminServer(
            config: AdminConfig(listen: HostPort(host: "127.0.0.1", port: 0)), registry: server.registry, group: group, logger: logger)
        try await admin.start()
        let base = "http://127.0.0.1:\(server.port)"
        // A long way round to the same server: every chunk waits 150 ms each way.
        let slowHop = try await DelayingRelay.start(
            group: group, to: try SocketAddress(ipAddress: "127.0.0.1", port: server.port), delay: .milliseconds(150))
        let tunnels = [
            TunnelConfig(name: "video", url: try ServerURL(parsing: "\(base)/video"), autostart: true),
            TunnelConfig(name: "ssh", url: try ServerURL(parsing: "\(base)/ssh"), autostart: true),
            TunnelConfig(name: "offsite", url: try ServerURL(parsing: "http://127.0.0.1:\(slowHop.port)/ssh"), autostart: true),
            TunnelConfig(name: "legacy-db", url: try ServerURL(parsing: "\(base)/db"), autostart: true),
        ]
        for tunnel in tunnels {
            try engine.add(tunnel)
            await engine.open(tunnel.name)
        }
        let traffic = DemoTraffic(
            group: group,
            clients: [
                .init(tunnel: "video", burst: 0, everySeconds: 1),
                .init(tunnel: "ssh", burst: 48 * 1024, everySeconds: 1),
                .init(tunnel: "offsite", burst: 96 * 1024, everySeconds: 1),
                .init(tunnel: "legacy-db", burst: 0, everySeconds: 4),
            ])
        let timer = group.next().scheduleRepeatedTask(initialDelay: .zero, delay: .seconds(1)) { _ in
            var ports: [String: Int] = [:]
            for snapshot in engine.snapshot() where snapshot.state == .listening { ports[snapshot.name] = snapshot.port }
            traffic.maintain(ports: ports)
        }
        let file = TunnelsFile(tunnels: tunnels, servers: [.init(name: "demo", adminURL: "http://127.0.0.1:\(admin.port)")])
        return DemoEnvironment(
            file: file, server: server, admin: admin, targets: [stream, echo], slowHop: slowHop, traffic: traffic,
            timer: timer)
    }

    private init(
        file: TunnelsFile, server: PurrServer, admin: AdminServer, targets: [any Channel], slowHop: DelayingRelay, traffic: DemoTraffic,
        timer: RepeatedTask
    ) {
        self.file = file
        self.slowHop = slowHop
        self.server = server
        self.admin = admin
        self.targets = targets
        self.traffic = traffic
        self.timer = timer
    }

    static func target(group: any EventLoopGroup, _ makeHandler: @escaping @Sendable () -> any ChannelHandler) async throws -> any Channel {
        try await ServerBootstrap(group: group)
            .childChannelOption(ChannelOptions.allowRemoteHalfClosure, value: true)
            .childChannelInitializer { channel in
                channel.eventLoop.makeCompletedFuture { try channel.pipeline.syncOperations.addHandler(makeHandler()) }
            }
            .bind(host: "127.0.0.1", port: 0).get()
    }

    public func stop() async {
        timer.cancel()
        traffic.stop()
        await admin.shutdown()
        await slowHop.stop()
        await server.shutdown(drainTimeout: 0)
        for target in targets { try? await target.close() }
    }
}
