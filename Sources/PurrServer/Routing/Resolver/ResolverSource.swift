import AsyncHTTPClient
import Foundation
import NIOCore
import NIOHTTP1
import NIOPosix
import NIOSSL
import PurrCore
import Synchronization

/// Asks a resolver service for each request's target: one POST of a `ResolverDocument`, answered by
/// `{"target": "host:port", "ttl": 30}` or a refusal. Every failure is a refusal with its own label
/// (`resolver_failed` 502, `resolver_timeout` 504, `resolver_refused` with the resolver's status), and
/// nothing waits longer than the timeout. One HTTP client per source (kept-alive connections to the
/// resolver); it is shut down by `shutdown()` or, failing that, when the source goes away with the
/// configuration generation that made it.
public final class ResolverSource: Sendable {
    public let config: ResolverConfig
    let client: HTTPClient
    let cache: ResolverCache
    private let isShutDown = Mutex(false)
    /// Questions on their way to the resolver: the same question asked again meanwhile (a warm pool
    /// opening several connections at once) waits for that answer instead of asking again.
    private let inFlight = Mutex<[ResolverCache.Key: Task<Result<ResolverAnswer, TargetRefusal>, Never>]>([:])
    /// Requests waiting for an answer now (tests watch it).
    let waiting = Atomic<Int>(0)

    /// Live HTTP clients of every resolver source in the process (tests check reloads do not leak them).
    static let liveClients = Atomic<Int>(0)

    public init(config: ResolverConfig, group: any EventLoopGroup = MultiThreadedEventLoopGroup.singleton, cacheCapacity: Int = 4096) {
        self.config = config
        self.cache = ResolverCache(capacity: cacheCapacity)
        let limit = TimeAmount.nanoseconds(Int64(config.timeout * 1e9))
        var configuration = HTTPClient.Configuration(
            tlsConfiguration: config.tls,
            redirectConfiguration: .disallow,
            timeout: .init(connect: limit, read: limit),
            decompression: .disabled
        )
        configuration.httpVersion = .http1Only
        // Tunnels open in bursts; past this many connections to the resolver, requests queue (within the timeout).
        configuration.connectionPool.concurrentHTTP1ConnectionsPerHostSoftLimit = 64
        // A refused connection is an answer (502), not something to retry until the deadline.
        configuration.connectionPool.retryConnectionEstablishment = false
        self.client = HTTPClient(eventLoopGroup: group, configuration: configuration)
        Self.liveClients.add(1, ordering: .relaxed)
    }

    deinit {
        // A reload drops the old generation's sources once their last connection is done with them.
        if !isShutDown.withLock({ $0 }) {
            client.shutdown { _ in ResolverSource.liveClients.subtract(1, ordering: .relaxed) }
        }
    }

    /// Closes the HTTP client; later requests are refused with 502.
    public func shutdown() async {
        let first = isShutDown.withLock { done in
            defer { done = true }
            return !done
        }
        guard first else { return }
        try? await client.shutdown()
        Self.liveClients.subtract(1, ordering: .relaxed)
    }

    /// One exchange with the resolver, bounded by the timeout from start to the end of the answer.
    func ask(_ document: ResolverDocument) async throws(TargetRefusal) -> ResolverAnswer {
        guard !isShutDown.withLock({ $0 }) else { throw ResolverAnswer.failed("the resolver client is shut down") }
        var request = HTTPClientRequest(url: config.url)
        request.method = .POST
        request.headers.add(name: "Content-Type", value: "application/json")
        request.headers.add(name: "Accept", value: "application/json")
        request.headers.add(name: "User-Agent", value: "purr-server/\(PurrVersion.current)")
        if let token = config.token { request.headers.add(name: "Authorization", value: "Bearer \(token)") }
        let status: Int
        let body: [UInt8]
        do {
            let encoded = try JSONEncoder().encode(document)
            request.body = .bytes(ByteBuffer(bytes: encoded))
            let deadline = NIODeadline.now() + .nanoseconds(Int64(config.timeout * 1e9))
            let response = try await client.execute(request, deadline: deadline)
            status = Int(response.status.code)
            var buffer = try await response.body.collect(upTo: ResolverAnswer.maxBody)
            body = buffer.readBytes(length: buffer.readableBytes) ?? []
        } catch {
            throw describe(error)
        }
        return try ResolverAnswer.interpret(status: status, body: body)
    }

    /// A failed exchange as the client's refusal; never names the resolver's address or token.
    func describe(_ error: any Error) -> TargetRefusal {
        if let http = error as? HTTPClientError {
            switch http {
            case .deadlineExceeded, .readTimeout, .connectTimeout:
                return TargetRefusal(
                    status: 504, message: "the resolver did not answer within \(Self.seconds(config.timeout))", reason: "resolver_timeout")
            case .remoteConnectionClosed:
                return ResolverAnswer.failed("the resolver closed the connection without an answer")
            case .alreadyShutdown:
                return ResolverAnswer.failed("the resolver client is shut down")
            default:
                return ResolverAnswer.failed("the resolver failed: \(http)")
            }
        }
        if error is NIOTooManyBytesError {
            return ResolverAnswer.failed("the resolver's answer is over \(ResolverAnswer.maxBody / 1024) KiB")
        }
        if error is HTTPParserError { return ResolverAnswer.failed("the resolver did not answer in HTTP") }
        if error is NIOSSLError || error is BoringSSLError || error is NIOSSLExtraError {
            return ResolverAnswer.failed("TLS with the resolver failed: \(error)")
        }
        if error is CancellationError { return ResolverAnswer.failed("the resolver request was cancelled") }
        return ResolverAnswer.failed("the resolver is unreachable: \(ConnectFailure.describe(error))")
    }

    static func seconds(_ value: Double) -> String {
        value == value.rounded() ? "\(Int(value)) s" : "\(value) s"
    }
}

extension ResolverSource: TargetSource {
    public func target(for request: TargetRequest) async throws(TargetRefusal) -> HostPort {
        let document = ResolverDocument(request: request, selected: config.headers)
        let key = ResolverCache.Key(document)
        if let cached = cache.lookup(key) { return cached }
        let question = inFlight.withLock { questions in
            if let asked = questions[key] { return asked }
            // Not the caller's task: a client that leaves does not cancel the answer others wait for.
            let asking = Task { [self] () -> Result<ResolverAnswer, TargetRefusal> in
                let result: Result<ResolverAnswer, TargetRefusal>
                do throws(TargetRefusal) {
                    result = .success(try await ask(document))
                } catch {
                    result = .failure(error)
                }
                if case .success(let answer) = result { cache.store(answer.target, for: key, ttl: answer.ttl) }
                inFlight.withLock { $0[key] = nil }
                return result
            }
            questions[key] = asking
            return asking
        }
        waiting.add(1, ordering: .relaxed)
        defer { waiting.subtract(1, ordering: .relaxed) }
        return try await question.value.get().target
    }
}
