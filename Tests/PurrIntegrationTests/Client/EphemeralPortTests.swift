import Foundation
import PurrTestSupport
import Synchronization
import XCTest

/// The client's host out of ephemeral ports. The port range is a per-network-namespace setting, so
/// this test gives target, server and client a namespace of their own with eight ephemeral ports:
/// nothing outside the test is touched. Needs root (CAP_SYS_ADMIN) for the namespace.
final class EphemeralPortTests: XCTestCase {
    static let range = (low: 40000, high: 40007)

    func testClientOutOfEphemeralPortsFailsEachConnectionClearlyAndRecovers() throws {
        guard getuid() == 0 else { throw XCTSkip("needs root for a private network namespace (docs/development.md)") }
        let holder = try RunningProcess(
            absolute: "/usr/bin/unshare",
            [
                "--net", "/bin/sh", "-c",
                "ip link set lo up && echo '\(Self.range.low) \(Self.range.high)' > /proc/sys/net/ipv4/ip_local_port_range"
                    + " && echo 1 > /proc/sys/net/ipv4/tcp_tw_reuse && echo ready && exec cat",
            ])
        defer { holder.stop() }
        XCTAssertTrue(holder.waitForOutput("ready"), holder.stderr)
        let namespace = "/proc/\(holder.pid)/ns/net"
        func inside(_ program: String, _ arguments: [String]) throws -> RunningProcess {
            try RunningProcess(absolute: "/usr/bin/nsenter", ["--net=\(namespace)", program] + arguments)
        }
        let echo = try inside("/usr/bin/env", ["python3", "-c", Self.echoServer])
        defer { echo.stop() }
        XCTAssertTrue(echo.waitForOutput("ready"), echo.stderr)
        let bin = RunningProcess.productsDirectory
        let server = try inside(
            bin.appendingPathComponent("purr-server").path, ["--listen", "127.0.0.1:7002", "--route", "/t=127.0.0.1:7001"])
        defer { server.stop() }
        XCTAssertTrue(server.waitForOutput("listening on"), server.stderr)
        let client = try inside(
            bin.appendingPathComponent("purr").path, ["connect", "http://127.0.0.1:7002/t", "--listen", "127.0.0.1:7003"])
        defer { client.stop() }
        XCTAssertTrue(client.waitForOutput("listening on"), client.stderr)

        // Eight tunnels take the eight ports the client may dial the server from.
        let ports = Self.range.high - Self.range.low + 1
        var held: [BlockingSocket] = []
        for index in 0..<ports {
            let socket = try Namespace.connect(namespace, from: 20000 + index, to: 7003)
            try socket.write("ping")
            XCTAssertEqual(try socket.read(exactly: 4), Array("ping".utf8), "tunnel \(index)")
            held.append(socket)
        }
        // Four more: each accepted, its dial fails, it is closed, and the client says why.
        for index in 0..<4 {
            let socket = try Namespace.connect(namespace, from: 21000 + index, to: 7003)
            XCTAssertEqual(try socket.readToEnd(), [], "over the port limit: closed without data")
            socket.close()
        }
        let failures = { client.stderr.split(separator: "\n").filter { $0.contains("no free local port") }.count }
        XCTAssertTrue(TestKit.poll { failures() >= 4 }, client.stderr)
        XCTAssertTrue(TestKit.settlesIdle(pid: client.pid), "no busy loop while out of ports")
        XCTAssertTrue(client.process.isRunning)

        // Two tunnels end; their ports come back and new connections work again.
        for socket in held.prefix(2) { socket.close() }
        var attempt = 0
        XCTAssertTrue(
            TestKit.poll(timeout: 20) {
                attempt += 1
                guard let socket = try? Namespace.connect(namespace, from: 22000 + attempt, to: 7003) else { return false }
                defer { socket.close() }
                guard (try? socket.write("back")) != nil else { return false }
                return (try? socket.read(exactly: 4)) == Array("back".utf8)
            }, client.stderr)
        for socket in held.dropFirst(2) {
            try socket.write("ping")
            XCTAssertEqual(try socket.read(exactly: 4), Array("ping".utf8), "the tunnels that stayed up kept working")
            socket.close()
        }
        XCTAssertEqual(client.signal(SIGTERM), 0)
        XCTAssertEqual(server.signal(SIGTERM), 0)
    }

    /// A small threaded echo on 127.0.0.1:7001 inside the namespace.
    static let echoServer = """
        import socket, threading
        s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        s.bind(("127.0.0.1", 7001)); s.listen(128); print("ready", flush=True)
        def serve(c):
            while True:
                d = c.recv(65536)
                if not d: break
                c.sendall(d)
            c.close()
        while True:
            c, _ = s.accept(); threading.Thread(target=serve, args=(c,), daemon=True).start()
        """
}

/// Sockets made inside another network namespace: a fresh thread joins it (setns affects only the
/// calling thread), creates and connects the socket, and ends; the socket stays in that namespace.
enum Namespace {
    typealias SetNS = @convention(c) (Int32, Int32) -> Int32
    static let cloneNewNet: Int32 = 0x4000_0000

    /// Connects from 127.0.0.1:`source` (a fixed port outside the ephemeral range) to 127.0.0.1:`port`.
    static func connect(_ namespace: String, from source: Int, to port: Int) throws -> BlockingSocket {
        let result = Mutex<Result<Int32, any Error>?>(nil)
        let done = DispatchSemaphore(value: 0)
        let thread = Thread {
            let made = Result<Int32, any Error> { try socketInside(namespace, source: source, port: port) }
            result.withLock { $0 = made }
            done.signal()
        }
        thread.start()
        done.wait()
        let fd = try result.withLock { $0! }.get()
        return BlockingSocket(adopting: fd, timeout: 5)
    }

    private static func socketInside(_ namespace: String, source: Int, port: Int) throws -> Int32 {
        guard let symbol = dlsym(dlopen(nil, RTLD_NOW), "setns") else { throw BlockingSocket.Failure(description: "no setns in libc") }
        let setns = unsafeBitCast(symbol, to: SetNS.self)
        let nsfd = open(namespace, O_RDONLY)
        guard nsfd >= 0 else { throw BlockingSocket.Failure(description: "open \(namespace): \(String(cString: strerror(errno)))") }
        defer { close(nsfd) }
        guard setns(nsfd, cloneNewNet) == 0 else { throw BlockingSocket.Failure(description: "setns: \(String(cString: strerror(errno)))") }
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        var one: Int32 = 1
        setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, socklen_t(MemoryLayout<Int32>.size))
        var local = address(port: source)
        var remote = address(port: port)
        let bound = withUnsafePointer(to: &local) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
        let connected =
            bound == 0
            ? withUnsafePointer(to: &remote) {
                $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { Glibc.connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
            } : -1
        guard connected == 0 else {
            let reason = String(cString: strerror(errno))
            close(fd)
            throw BlockingSocket.Failure(description: "connect from \(source) to \(port): \(reason)")
        }
        return fd
    }

    private static func address(port: Int) -> sockaddr_in {
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = in_port_t(UInt16(port).bigEndian)
        address.sin_addr.s_addr = in_addr_t(0x7f00_0001).bigEndian
        return address
    }
}
