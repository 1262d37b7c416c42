import Foundation
import Synchronization

/// A real HTTP CONNECT proxy for tests (thread per connection), with optional basic auth.
public final class ConnectProxy: @unchecked Sendable {
    public let port: Int
    private let listener: Int32
    private let requiredAuth: String?
    private let log = Mutex<[String]>([])
    private let stopped = Atomic<Bool>(false)

    /// - Parameter credentials: `user:password` the proxy insists on, or nil for none.
    public init(credentials: String? = nil) throws {
        requiredAuth = credentials.map { "Basic " + Data($0.utf8).base64EncodedString() }
        (listener, port) = LoopbackListener.open()
        let thread = Thread { [self] in acceptLoop() }
        thread.start()
    }

    /// The CONNECT targets asked for so far (`host:port`), and refusals as `407 host:port`.
    public var requests: [String] { log.withLock { $0 } }

    /// Closes the listener once (deinit calls this again; a second close could hit a reused descriptor).
    public func stop() {
        guard !stopped.exchange(true, ordering: .acquiringAndReleasing) else { return }
        shutdown(listener, Int32(SHUT_RDWR))
        close(listener)
    }

    deinit { stop() }

    private func acceptLoop() {
        while !stopped.load(ordering: .relaxed) {
            let client = accept(listener, nil, nil)
            if client < 0 { return }
            Thread { [self] in handle(client) }.start()
        }
    }

    private func handle(_ client: Int32) {
        let downstream = BlockingSocket(adopting: client, timeout: 30)
        guard let (head, rest) = try? downstream.readHead() else { return }
        let lines = head.split(separator: "\r\n")
        let parts = lines.first?.split(separator: " ") ?? []
        guard parts.count == 3, parts[0] == "CONNECT" else {
            try? downstream.write("HTTP/1.1 405 Method Not Allowed\r\nContent-Length: 0\r\n\r\n")
            return
        }
        let target = String(parts[1])
        if let requiredAuth {
            let given = lines.first { $0.lowercased().hasPrefix("proxy-authorization:") }
                .map { $0.split(separator: ":", maxSplits: 1)[1].trimmingCharacters(in: .whitespaces) }
            guard given == requiredAuth else {
                log.withLock { $0.append("407 \(target)") }
                // As real proxies answer (RFC 9110 11.7.1: a 407 names its schemes); this one hangs up after.
                try? downstream.write(
                    "HTTP/1.1 407 Proxy Authentication Required\r\nProxy-Authenticate: Basic realm=\"purr-test\"\r\n"
                        + "Connection: close\r\nContent-Length: 0\r\n\r\n")
                return
            }
        }
        log.withLock { $0.append(target) }
        guard let colon = target.lastIndex(of: ":"), let port = Int(target[target.index(after: colon)...]),
            let upstream = try? BlockingSocket(host: String(target[..<colon]), port: port, timeout: 30)
        else {
            try? downstream.write("HTTP/1.1 502 Bad Gateway\r\nContent-Length: 0\r\n\r\n")
            return
        }
        try? downstream.write("HTTP/1.1 200 Connection established\r\n\r\n")
        if !rest.isEmpty { try? upstream.write(rest) }
        let done = DispatchGroup()
        for (from, to) in [(downstream, upstream), (upstream, downstream)] {
            done.enter()
            Thread {
                while let chunk = try? from.read(max: 256 * 1024), !chunk.isEmpty {
                    if (try? to.write(chunk)) == nil { break }
                }
                to.shutdownWrite()
                done.leave()
            }.start()
        }
        _ = done.wait(timeout: .now() + 120)
    }
}
