import Foundation
import Synchronization

/// A minimal stand-in for the original Ruby server: reads one request head, records it, answers with
/// the original 101 bytes and a banner in the same write (as a server that speaks first would), then echoes.
/// With `earlyWait`, it waits that long for bytes behind the head before it answers and records them:
/// what a client sent early (see `advertisingEarlyData` for a 101 that says it keeps them).
public final class OriginalServerStandIn: @unchecked Sendable {
    public struct Exchange: Sendable {
        public var head: String
        public var beforeAnswer: [UInt8]
    }

    public let port: Int
    private let listener: Int32
    private let response: [UInt8]
    private let earlyWait: Double
    private let received = Mutex<[Exchange]>([])
    private let stopped = Atomic<Bool>(false)

    public init(response101: [UInt8], banner: String, earlyWait: Double = 0) throws {
        response = response101 + Array(banner.utf8)
        self.earlyWait = earlyWait
        (listener, port) = LoopbackListener.open()
        Thread { [self] in
            while true {
                let client = accept(listener, nil, nil)
                if client < 0 { return }
                Thread { [self] in serve(BlockingSocket(adopting: client, timeout: 30)) }.start()
            }
        }.start()
    }

    /// The original 101 with `Purr-Early-Data: 1`, as purr-server answers a client that offers it.
    public static func advertisingEarlyData(_ original101: [UInt8]) -> [UInt8] {
        let text = String(decoding: original101, as: UTF8.self)
        return Array((String(text.dropLast()) + "Purr-Early-Data: 1\r\n\r\n").utf8)  // "\r\n" is one Character
    }

    /// The request heads received, verbatim.
    public var requests: [String] { received.withLock { $0.map(\.head) } }

    /// Each connection's head and the bytes that came behind it before the answer.
    public var exchanges: [Exchange] { received.withLock { $0 } }

    private func serve(_ socket: BlockingSocket) {
        guard let (head, rest) = try? socket.readHead() else { return }
        var early = rest
        let deadline = Date().addingTimeInterval(earlyWait)
        while Date() < deadline {
            var entry = pollfd(fd: socket.fd, events: Int16(POLLIN), revents: 0)
            guard poll(&entry, 1, 50) > 0 else { continue }
            guard let chunk = try? socket.read(), !chunk.isEmpty else { break }
            early += chunk
        }
        received.withLock { $0.append(Exchange(head: head, beforeAnswer: early)) }
        guard (try? socket.write(response)) != nil else { return }
        if !early.isEmpty { try? socket.write(early) }
        while let chunk = try? socket.read(), !chunk.isEmpty {
            if (try? socket.write(chunk)) == nil { return }
        }
        socket.shutdownWrite()
    }

    /// Closes the listener once (deinit calls this again; a second close could hit a reused descriptor).
    public func stop() {
        guard !stopped.exchange(true, ordering: .acquiringAndReleasing) else { return }
        shutdown(listener, Int32(SHUT_RDWR))
        close(listener)
    }

    deinit { stop() }
}
