import AsyncHTTPClient
import Foundation
import NIOCore
import NIOHTTP1
import NIOSSL
import PurrCore
import Synchronization

/// Follows one server's admin stream (`GET /stats/stream`, over http or https): typed snapshots and
/// connection events, its own state, and reconnection with capped, jittered backoff when the server
/// goes away. The HTTP is AsyncHTTPClient's; only the event lines are parsed here (`SSEParser`).
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

    /// How one connection to the stream ended.
    enum Outcome: Sendable, Equatable {
        case unauthorized
        case failed(String)
    }

    public let name: String
    public let url: ServerURL
    let token: String?
    let intervalMs: Int
    let group: any EventLoopGroup
    let backoff: Backoff
    let tls: TLSConfiguration?
    private let mutable = Mutex<Shared>(Shared())

    struct Shared {
        var state: State = .idle
        var latest: StatsSnapshot?
        var task: Task<Void, Never>?
        var continuations: [UUID: AsyncStream<Update>.Continuation] = [:]
    }

    /// `caFile` and `insecure` apply to https:// admin URLs, as for tunnels.
    public init(
        name: String, adminURL: String, token: String?, caFile: String? = nil, insecure: Bool = false, intervalMs: Int = 1000,
        group: any EventLoopGroup, backoff: Backoff = Backoff()
    ) throws(ConfigError) {
        self.name = name
        self.url = try ServerURL(parsing: adminURL)
        self.token = token
        self.intervalMs = intervalMs
        self.group = group
        self.backoff = backoff
        var tls = url.scheme == .https ? try ClientTLS.makeConfiguration(caFile: caFile, insecure: insecure) : nil
        // Stopping should not wait the default 5 s for a server busy streaming to answer close_notify.
        tls?.shutdownTimeout = .milliseconds(300)
        self.tls = tls
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
        let task = mutable.withLock { shared -> Task<Void, Never>? in
            defer { shared.task = nil }
            return shared.task
        }
        task?.cancel()
        await task?.value
        set(.idle)
    }

    /// No event for this long means the server (or the path to it) is gone, even if TCP says nothing.
    var silence: TimeAmount { .milliseconds(Int64(intervalMs) * 3 + 5000) }

    private func makeClient() -> HTTPClient {
        var configuration = HTTPClient.Configuration(
            tlsConfiguration: tls,
            redirectConfiguration: .disallow,
            timeout: .init(connect: .seconds(5), read: silence),
            decompression: .disabled
        )
        configuration.httpVersion = .http1Only
        // Our own backoff decides when to try again, and the state shows each failure.
        configuration.connectionPool.retryConnectionEstablishment = false
        return HTTPClient(eventLoopGroup: group, configuration: configuration)
    }

    private func run() async {
        let client = makeClient()
        var delays = backoff
        while !Task.isCancelled {
            set(.connecting)
            let (outcome, wasLive) = await connectOnce(client)
            if Task.isCancelled { break }
            if wasLive { delays.reset() }
            switch outcome {
            case .unauthorized: set(.unauthorized)
            case .failed(let reason): set(.unreachable(reason))
            }
            try? await Task.sleep(for: .milliseconds(Int(delays.next() * 1000)))
        }
        try? await client.shutdown()
    }

    var requestURL: String {
        let query = [URLQueryItem(name: "interval_ms", value: "\(intervalMs)")]
        return url.resourceURL(appending: "/stats/stream", queryItems: query) ?? url.description
    }

    /// One connection, until it ends; returns how, and whether it was ever live.
    private func connectOnce(_ client: HTTPClient) async -> (Outcome, Bool) {
        var request = HTTPClientRequest(url: requestURL)
        request.headers.add(name: "Accept", value: "text/event-stream")
        if let token { request.headers.add(name: "Authorization", value: "Bearer \(token)") }
        var wasLive = false
        do {
            let response = try await client.execute(request, timeout: .seconds(10))
            switch response.status.code {
            case 200: break
            case 401: return (.unauthorized, false)
            default: return (.failed("server answered \(response.status.code) \(response.status.reasonPhrase)"), false)
            }
            let type = response.headers.first(name: "Content-Type") ?? "none"
            guard type.lowercased().hasPrefix("text/event-stream") else {
                return (.failed("not an admin endpoint: it answered 200 with Content-Type \(type)"), false)
            }
            wasLive = true
            set(.live)
            var parser = SSEParser()
            for try await chunk in response.body {
                for event in try parser.feed(chunk.readableBytesView) { receive(name: event.name, data: event.data) }
            }
            return (.failed("the server ended the stream"), true)
        } catch {
            return (.failed(describe(error, wasLive: wasLive)), wasLive)
        }
    }

    /// A failure in words, naming the endpoint where that helps.
    func describe(_ error: any Error, wasLive: Bool) -> String {
        if error is SSEParser.Failure { return "admin stream line too long" }
        if error is HTTPParserError { return "not an admin endpoint: \(url.endpoint) does not answer in HTTP (\(error))" }
        if let http = error as? HTTPClientError {
            switch http {
            case .readTimeout: return "no data from the server for too long"
            case .remoteConnectionClosed: return wasLive ? "connection closed" : "connection closed before an answer"
            case .deadlineExceeded, .connectTimeout: return "\(url.endpoint): timed out"
            default: return "\(url.endpoint): \(http)"
            }
        }
        if let tls = ClientTLS.describe(error, host: url.host) { return tls }
        let reason = ConnectFailure.describe(error)
        if reason == "connection refused" { return "connection refused by \(url.endpoint)" }
        return wasLive ? reason : "\(url.endpoint): \(reason)"
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
