import Foundation
import Synchronization

#if canImport(Glibc)
    import Glibc
#endif

/// A link emulator for the `wan` workload: a relay hop that delivers each direction's bytes a one-way
/// delay D after they were read, and holds a new connection's first bytes until a TCP handshake would
/// have finished. On loopback `connect` returns at once; across a link with round-trip time 2D the
/// client's first bytes leave at 2D (arrive at 3D) and the server, which accepts at 3D, answers no
/// sooner than 4D: the same 2 round trips a direct connection needs for its first response.
final class DelayLink: Sendable {
    let listener: Listener
    let next: Int
    let delay: Double

    var port: Int { listener.port }

    init(delay: Double, next: Int) throws(BenchError) {
        self.listener = try Listener()
        self.next = next
        self.delay = delay
        let link = self
        Threads.detach("link-accept") {
            while let inbound = link.listener.accept() {
                let accepted = Clock.seconds()
                guard let outbound = try? Socket.connect(port: link.next, timeout: 30) else {
                    inbound.close()
                    continue
                }
                inbound.setInt(Int32(IPPROTO_TCP), TCP_NODELAY, 1)
                // Client to server: the first bytes leave when the handshake's round trip is over.
                link.direction(from: inbound, to: outbound, notBefore: accepted + 2 * delay, closeBoth: false)
                // Server to client: the server accepted one way later than the client's connect returned.
                link.direction(from: outbound, to: inbound, notBefore: accepted + 3 * delay, closeBoth: true)
            }
        }
    }

    /// A reader that timestamps what it reads and a writer that delivers it `delay` later, in order;
    /// the end of input travels the same way and becomes a half-close.
    private func direction(from source: Socket, to sink: Socket, notBefore: Double, closeBoth: Bool) {
        let queue = DelayQueue()
        let delay = self.delay
        Threads.detach("link-read") {
            source.setTimeout(SO_RCVTIMEO, seconds: 0)
            let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: 1 << 16, alignment: 16)
            defer { buffer.deallocate() }
            while let count = try? source.receive(into: buffer), count > 0 {
                queue.push(at: max(Clock.seconds(), notBefore) + delay, Array(UnsafeRawBufferPointer(rebasing: buffer[..<count])))
            }
            queue.push(at: max(Clock.seconds(), notBefore) + delay, nil)
        }
        Threads.detach("link-write") {
            while let (at, bytes) = queue.pop() {
                Clock.sleep(at - Clock.seconds())
                guard let bytes else { break }
                let sent = bytes.withUnsafeBytes { (try? sink.sendAll($0)) != nil }
                if !sent { break }
            }
            sink.shutdownWrite()
            if closeBoth {
                Clock.sleep(delay * 2)  // let the other direction's last bytes arrive first
                source.close()
                sink.close()
            }
        }
    }

    func stop() {
        listener.close()
    }
}

/// Chunks waiting for their delivery time, first in first out; `nil` bytes mark the end of input.
final class DelayQueue: Sendable {
    private let items = Mutex<[(Double, [UInt8]?)]>([])
    private let ready = DispatchSemaphore(value: 0)

    func push(at time: Double, _ bytes: [UInt8]?) {
        items.withLock { $0.append((time, bytes)) }
        ready.signal()
    }

    /// The next chunk (blocks until there is one); nil after 60 s of nothing, so no thread is stuck forever.
    func pop() -> (Double, [UInt8]?)? {
        guard ready.wait(timeout: .now() + 60) == .success else { return nil }
        return items.withLock { $0.removeFirst() }
    }
}
