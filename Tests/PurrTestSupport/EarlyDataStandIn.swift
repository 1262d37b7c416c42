import Foundation
import Synchronization

/// A server that answers with the original 101 (optionally with `Purr-Early-Data: 1`) and records, per
/// connection, the request head and the bytes that arrived before it answered: what a client sent early.
public final class EarlyDataStandIn: @unchecked Sendable {
    public struct Exchange: Sendable {
        public var head: String
        public var beforeAnswer: [UInt8]
    }

    public let port: Int
    private let listener: Int32
    private let response: [UInt8]
    private let recorded = Mutex<[Exchange]>([])
    private let stopped = Atomic<Bool>(false)

    /// - Parameter advertise: put `Purr-Early-Data: 1` in the 101 (as purr-server does when asked).
    public init(original101: [UInt8], advertise: Bool) throws {
        var text = String(decoding: original101, as: UTF8.self)
        if advertise { text = String(text.dropLast()) + "Purr-Early-Data: 1\r\n\r\n" }  // "\r\n" is one Character
        response = Array(text.utf8)
        (listener, port) = LoopbackListener.open()
        Thread { [self] in
            while true {
                let client = accept(listener, nil, nil)
                if client < 0 { return }
                Thread { [self] in serve(BlockingSocket(adopting: client, timeout: 30)) }.start()
            }
        }.start()
    }

    public var exchanges: [Exchange] { recorded.withLock { $0 } }

    private func serve(_ socket: BlockingSocket) {
        guard let (head, rest) = try? socket.readHead() else { return }
        var early = rest
        // Whatever else comes within a moment, before the answer, was sent early too.
        let deadline = Date().addingTimeInterval(0.3)
        while Date() < deadline {
            var entry = pollfd(fd: socket.fd, events: Int16(POLLIN), revents: 0)
            guard poll(&entry, 1, 50) > 0 else { continue }
            guard let chunk = try? socket.read(), !chunk.isEmpty else { break }
            early += chunk
        }
        recorded.withLock { $0.append(Exchange(head: head, beforeAnswer: early)) }
        guard (try? socket.write(response + early)) != nil else { return }
        while let chunk = try? socket.read(), !chunk.isEmpty {
            if (try? socket.write(chunk)) == nil { return }
        }
        socket.shutdownWrite()
    }

    /// Closes the listener once (deinit calls this again).
    public func stop() {
        guard !stopped.exchange(true, ordering: .acquiringAndReleasing) else { return }
        shutdown(listener, Int32(SHUT_RDWR))
        close(listener)
    }

    deinit { stop() }
}
