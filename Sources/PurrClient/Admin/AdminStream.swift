import Foundation
import NIOCore
import NIOPosix
import PurrCore
import Synchronization

/// Follows one server's admin stream (`GET /stats/stream`): typed snapshots and connection events,
/// its own state, and reconnection with capped, jittered backoff when the server goes away.
public final class AdminStream: Sendable {
    public enum State: Sendable, Equatable, CustomStringConvertible {
        case idle
        case connecting
        case live
        case unauthorized
        case unreachable(String)

        public var description: String {
            switch self {
            case .idle: return "idle"
            case .connecting: return "connecting"
            case .live: return "live"
            case .unauthorized: return "unauthorized"
            case .unreachable(let reason): return "unreachable: \(reason)"
            }
        }
    }

    public enum Update: Sendable, Equatable {
        case state(State)
        case stats(StatsSnapshot)
        case connection(ConnectionEvent)
    }

    public let name: String
    public let url: ServerURL
    let token: String?
    let intervalMs: Int
    let group: any EventLoopGroup
    let backoff: Backoff
    private let mutable = Mutex<Shared>(Shared())

    struct Shared {
        var state: State = .idle
        var latest: StatsSnapshot?
        var task: Task<Void, Never>?
        var channel: (any Channel)?
        var continuations: [UUID: AsyncStream<Update>.Continuation] = [:]
    }

    public init(
        name: String, adminURL: String, token: String?, intervalMs: Int = 1000, group: any EventLoopGroup,
        backoff: Backoff = Backoff()
    ) throws(ConfigError) {
        self.name = name
        self.url = try ServerURL(parsing: adminURL)
        self.token = token
        self.intervalMs = intervalMs
        self.group = group
        self.backoff = backoff
    }

    public var state: State { mutable.withLock { $0.state } }
    /// The last snapshot received (kept across reconnects).
    public var latest: StatsSnapshot? { mutable.withLock { $0.latest } }

    /// A stream of updates; each call gets its own. A slow consumer loses the oldest.
    public func updates() -> AsyncStream<Update> {
        let (stream, continuation) = AsyncStream<Update>.makeStream(bufferingPolicy: .bufferingNewest(256))
        let id = UUID()
        mutable.withLock { $0.continuations[id] = continuation }
        continuation.onTermination = { [weak self] _ in _ = self?.mutable.withLock { $0.continuations.removeValue(forKey: id) } }
        return stream
    }

    /// Starts following (idempotent).
    public func start() {
        mutable.withLock { shared in
            guard shared.task == nil else { return }
            shared.task = Task { [self] in await run() }
        }
    }

    /// Stops following and closes the connection.
    public func stop() async {
        let (task, channel) = mutable.withLock { shared -> (Task<Void, Never>?, (any Channel)?) in
            defer { shared.task = nil }
            return (shared.task, shared.channel)
        }
        task?.cancel()
        try? await channel?.close()
        await task?.value
        set(.idle)
    }

    private func run() async {
        var delays = backoff
        while !Task.isCancelled {
            set(.connecting)
            let (outcome, wasLive) = await connectOnce()
            if Task.isCancelled { return }
            if wasLive { delays.reset() }
            switch outcome {
            case .unauthorized: set(.unauthorized)
            case .failed(let reason): set(.unreachable(reason))
            }
            try? await Task.sleep(for: .milliseconds(Int(delays.next() * 1000)))
        }
    }

    private var requestPath: String {
        let base = url.path.split(separator: "?").first.map(String.init) ?? "/"
        let trimmed = base.hasSuffix("/") ? String(base.dropLast()) : base
        return "\(trimmed)/stats/stream?interval_ms=\(intervalMs)"
    }

    /// One connection, until it ends; returns how, and whether it was ever live.
    private func connectOnce() async -> (AdminStreamHandler.Outcome, Bool) {
        var request = "GET \(requestPath) HTTP/1.1\r\nHost: \(url.hostHeader)\r\nAccept: text/event-stream\r\n"
        if let token { request += "Authorization: Bearer \(token)\r\n" }
        request += "\r\n"
        let wasLive = Atomic<Bool>(false)
        let silence = TimeAmount.milliseconds(Int64(intervalMs) * 3 + 5000)
        let outcome: AdminStreamHandler.Outcome = await withCheckedContinuation { continuation in
            let once = Atomic<Bool>(false)
            let resume: @Sendable (AdminStreamHandler.Outcome) -> Void = { outcome in
                if !once.exchange(true, ordering: .acquiringAndReleasing) { continuation.resume(returning: outcome) }
            }
            let callbacks = AdminStreamHandler.Callbacks(
                live: { [self] in
                    wasLive.store(true, ordering: .relaxed)
                    set(.live)
                },
                event: { [self] name, data in receive(name: name, data: data) },
                finished: resume
            )
            let request = request
            ClientBootstrap(group: group)
                .connectTimeout(.seconds(5))
                .channelInitializer { channel in
                    channel.eventLoop.makeCompletedFuture {
                        try channel.pipeline.syncOperations.addHandler(IdleStateHandler(readTimeout: silence))
                        try channel.pipeline.syncOperations.addHandler(AdminStreamHandler(request: request, callbacks: callbacks))
                    }
                }
                .connect(host: url.host, port: url.port)
                .whenComplete { [self] result in
                    switch result {
                    case .success(let channel):
                        mutable.withLock { $0.channel = channel }
                        if Task.isCancelled { channel.close(promise: nil) }
                    case .failure(let error):
                        let reason = ConnectFailure.describe(error)
                        resume(
                            .failed(reason == "connection refused" ? "connection refused by \(url.endpoint)" : "\(url.endpoint): \(reason)")
                        )
                    }
                }
        }
        mutable.withLock { $0.channel = nil }
        return (outcome, wasLive.load(ordering: .relaxed))
    }

    private func receive(name: String, data: String) {
        let decoder = AdminJSON.decoder()
        switch name {
        case "stats":
            guard let snapshot = try? decoder.decode(StatsSnapshot.self, from: Data(data.utf8)) else { return }
            mutable.withLock { $0.latest = snapshot }
            emit(.stats(snapshot))
        case "connection":
            guard let event = try? decoder.decode(ConnectionEvent.self, from: Data(data.utf8)) else { return }
            emit(.connection(event))
        default:
            break
        }
    }

    private func set(_ state: State) {
        let changed = mutable.withLock { shared -> Bool in
            guard shared.state != state else { return false }
            shared.state = state
            return true
        }
        if changed { emit(.state(state)) }
    }

    private func emit(_ update: Update) {
        let targets = mutable.withLock { Array($0.continuations.values) }
        for continuation in targets { continuation.yield(update) }
    }
}
