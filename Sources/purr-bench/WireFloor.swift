import Foundation

/// The wire floor: Purr's wire protocol at C speed over two epoll hops, a client hop (plays `purr
/// connect`) in front of a server hop (plays `purr-server`) in front of the target. Each hop sends
/// exactly what the real program sends (the upgrade request, its 101) and does nothing else, so
/// against the own relay it shows what the protocol itself costs, and against Purr what the rest does.
final class WireFloor {
    /// The path the server hop accepts, as in the bench's `purr-server --route`.
    static let path = "/t"
    let port: Int
    private let client: EpollRelay
    private let server: EpollRelay

    init(target: Int) throws(BenchError) {
        let server = try EpollRelay(next: target, behavior: WireFloorServerHop(path: Self.path))
        do {
            let client = try EpollRelay(next: server.port, behavior: WireFloorClientHop(path: Self.path, server: server.port))
            self.server = server
            self.client = client
            port = client.port
        } catch {
            server.stop()
            throw error
        }
    }

    /// CPU seconds each hop's thread has used, and both.
    var clientSeconds: Double { client.cpuSeconds }
    var serverSeconds: Double { server.cpuSeconds }
    var cpuSeconds: Double { clientSeconds + serverSeconds }

    func stop() {
        client.stop()
        server.stop()
    }

    /// `purr-bench --floor-hop client:PORT|server:PORT|relay:PORT`: one hop in front of 127.0.0.1:PORT, until stdin ends.
    static func runHop(_ spec: String) throws {
        let parts = spec.split(separator: ":")
        guard parts.count == 2, let next = Int(parts[1]), (1...65535).contains(next), ["client", "server", "relay"].contains(parts[0])
        else {
            throw BenchError("--floor-hop: '\(spec)' is not client:PORT, server:PORT or relay:PORT")
        }
        let hop =
            switch parts[0] {
            case "client": try EpollRelay(next: next, behavior: WireFloorClientHop(path: path, server: next))
            case "server": try EpollRelay(next: next, behavior: WireFloorServerHop(path: path))
            default: try EpollRelay(next: next)
            }
        FileHandle.standardOutput.write(Data("listening on 127.0.0.1:\(hop.port)\n".utf8))
        while readLine() != nil {}
        hop.stop()
    }
}

extension UnsafeMutableRawBufferPointer {
    /// Whether the buffer starts with `bytes`.
    func starts(with bytes: [UInt8]) -> Bool {
        guard count >= bytes.count else { return false }
        for index in bytes.indices where self[index] != bytes[index] { return false }
        return true
    }

    /// Whether `bytes` stand somewhere in the buffer's first `end` bytes.
    func contains(_ bytes: [UInt8], before end: Int) -> Bool {
        guard end >= bytes.count else { return false }
        return (0...(end - bytes.count)).contains { start in bytes.indices.allSatisfy { self[start + $0] == bytes[$0] } }
    }
}
