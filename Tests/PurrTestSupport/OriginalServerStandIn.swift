import Foundation
import Synchronization

/// A minimal stand-in for the original Ruby server: reads one request head, records it, answers with
/// the original 101 bytes and a banner in the same write (as a server that speaks first would), then echoes.
public final class OriginalServerStandIn: @unchecked Sendable {
    public let port: Int
    private let listener: Int32
    private let response: [UInt8]
    private let received = Mutex<[String]>([])
    private let stopped = Atomic<Bool>(false)

    public init(response101: [UInt8], banner: String) throws {
        response = response101 + Array(banner.utf8)
        (listener, port) = LoopbackListener.open()
        Thread { [self] in
            while true {
                let client = accept(listener, nil, nil)
                if client < 0 { return }
                Thread { [self] in serve(BlockingSocket(adopting: client, timeout: 30)) }.start()
            }
        }.start()
    }

    /// The request heads received, verbatim.
    public var requests: [String] { received.withLock { $0 } }

    private func serve(_ socket: BlockingSocket) {
        guard let (head, rest) = try? socket.readHead() else { return }
        received.withLock { $0.append(head) }
        guard (try? socket.write(response)) != nil else { return }
        if !rest.isEmpty { try? socket.write(rest) }
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
