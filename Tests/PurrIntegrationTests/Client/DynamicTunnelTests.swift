import Foundation
import PurrCore
import PurrTestSupport
import XCTest

/// Dynamic tunnels with real clients: the built `purr connect --socks5 / --http-proxy` in front of the
/// built `purr-server` (a template route), driven by curl, OpenSSH through netcat, headless Chromium and
/// python-socks; targets are a Python HTTP server and a real sshd.
final class DynamicTunnelTests: XCTestCase {
    /// The server: a template route, one with a token, and one whose resolver never answers (504).
    struct Stack {
        let server: RunningProcess
        let serverPort: Int
        /// A resolver that takes connections and never answers (a listener nobody accepts from).
        let stall: (fd: Int32, port: Int)
        var processes: [RunningProcess] = []

        func stop() {
            for process in processes { process.stop() }
            server.stop()
            close(stall.fd)
        }
    }

    func startServer() throws -> Stack {
        let stall = LoopbackListener.open(backlog: 16)
        let (server, port) = try RunningProcess.purrServer(
            config: """
                [[routes]]
                path = "/t/{host}/{port}"
                target = "{host}:{port}"
                allow = ["127.0.0.1:*", "[::1]:*", "localhost:*", "255.255.255.255:*"]

                [[routes]]
                path = "/tok/{host}/{port}"
                target = "{host}:{port}"
                token = "route-secret"
                allow = ["127.0.0.1:*"]

                [[routes]]
                path = "/slow/{host}/{port}"
                resolver = "http://127.0.0.1:\(stall.port)/"
                resolver_timeout = 0.5
                allow = ["127.0.0.1:*"]
                """)
        return Stack(server: server, serverPort: port, stall: stall)
    }

    /// `purr connect MODE URL` on a free port; returns it and the port it printed.
    func connect(_ stack: inout Stack, path: String, _ flags: [String], environment: [String: String] = [:]) throws -> Int {
        let process = try RunningProcess(
            "purr", ["connect"] + flags + ["http://127.0.0.1:\(stack.serverPort)\(path)", "--listen", "127.0.0.1:0"],
            environment: environment)
        stack.processes.append(process)
        XCTAssertTrue(process.waitForOutput("listening on"), process.stderr)
        let line = process.stdout.split(separator: "\n").first { $0.hasPrefix("listening on") } ?? ""
        return Int(line.split(separator: ":").last ?? "") ?? 0
    }

    /// A 1 MiB file of random bytes and a page, served by `python3 -m http.server`.
    func origin() throws -> (HTTPOrigin, Int, [UInt8]) {
        let payload = TestKit.randomPayload(count: 1 << 20, seed: 25)
        let page = Data("<html><body><p id=\"x\">through purr socks5</p></body></html>".utf8)
        let origin = try HTTPOrigin("purr-dyn", files: ["blob.bin": Data(payload), "index.html": page])
        return (origin, origin.port, payload)
    }

    /// curl (bounded), the body written to a file and returned with curl's `-w` output.
    func curl(_ arguments: [String]) throws -> (status: Int32, body: [UInt8], written: String, stderr: String) {
        let out = FileManager.default.temporaryDirectory.appendingPathComponent("purr-curl-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: out) }
        let result = try RunningProcess.run(
            absolute: "/usr/bin/curl", ["-sS", "--max-time", "30", "-o", out.path] + arguments, timeout: 40)
        let body = (try? Data(contentsOf: out)).map { [UInt8]($0) } ?? []
        return (result.status, body, result.stdout, result.stderr)
    }

    func testCurlThroughSocks5SOCKS4aAndTheHTTPProxyIsByteExact() throws {
        var stack = try startServer()
        defer { stack.stop() }
        let (origin, originPort, payload) = try origin()
        defer { origin.stop() }
        let port = try connect(&stack, path: "/t/{host}/{port}", ["--socks5", "--http-proxy"])
        let expected = TestKit.sha256(payload)
        let url = "http://127.0.0.1:\(originPort)/blob.bin"
        let byName = "http://localhost:\(originPort)/blob.bin"
        let cases: [(String, [String])] = [
            ("socks5 with the name passed on", ["--socks5-hostname", "127.0.0.1:\(port)", byName]),
            ("socks5 with an IPv4 address", ["--socks5", "127.0.0.1:\(port)", url]),
            ("socks4a", ["--socks4a", "127.0.0.1:\(port)", byName]),
            ("http proxy, plain GET", ["-x", "http://127.0.0.1:\(port)", url]),
            ("http proxy, CONNECT", ["--proxytunnel", "-x", "http://127.0.0.1:\(port)", byName]),
        ]
        for (name, arguments) in cases {
            let result = try curl(arguments)
            XCTAssertEqual(result.status, 0, "\(name): \(result.stderr)")
            XCTAssertEqual(TestKit.sha256(result.body), expected, name)
        }
        // Each became a tunnel to the target it named, logged with it.
        let client = stack.processes[0]
        XCTAssertTrue(TestKit.poll { client.stderr.components(separatedBy: " close").count > cases.count }, client.stderr)
        XCTAssertTrue(client.stderr.contains("target=localhost:\(originPort)"), client.stderr)
        XCTAssertTrue(client.stderr.contains("target=127.0.0.1:\(originPort)"), client.stderr)
    }

    func testTheHTTPProxyAnswersWithTheServersRefusalMapped() throws {
        var stack = try startServer()
        defer { stack.stop() }
        let port = try connect(&stack, path: "/t/{host}/{port}", ["--http-proxy"])
        let closed = RunningProcess.freePort()
        let cases: [(target: String, code: String, words: String)] = [
            ("10.9.8.7:80", "403", "not allowed for route"),
            ("127.0.0.1:\(closed)", "502", "connection refused"),
        ]
        for (target, code, words) in cases {
            let result = try curl(["--proxytunnel", "-x", "http://127.0.0.1:\(port)", "-w", "%{http_connect}", "http://\(target)/"])
            XCTAssertNotEqual(result.status, 0, target)
            XCTAssertEqual(result.written, code, "\(target): \(result.stderr)")
        }
        // The body says why: read it as a plain client would.
        let socket = try BlockingSocket(port: port, timeout: 20)
        try socket.write("CONNECT 10.9.8.7:80 HTTP/1.1\r\nHost: 10.9.8.7:80\r\n\r\n")
        let response = try socket.readResponse()
        XCTAssertEqual(response.status, 403)
        XCTAssertTrue(response.body.contains("target 10.9.8.7:80 is not allowed for route /t/{host}/{port}"), response.body)
        // A SOCKS request on an HTTP proxy port is closed without an answer.
        let socks = try BlockingSocket(port: port, timeout: 20)
        try socks.write([5, 1, 0])
        XCTAssertEqual(try socks.readToEnd(), [])
    }

    func testEveryRefusalCodeAsPythonSocksSeesIt() throws {
        var stack = try startServer()
        defer { stack.stop() }
        let (origin, originPort, _) = try origin()
        defer { origin.stop() }
        let open = try connect(&stack, path: "/t/{host}/{port}", ["--socks5"])
        let token = try connect(&stack, path: "/tok/{host}/{port}", ["--socks5"])
        let noRoute = try connect(&stack, path: "/none/{host}/{port}", ["--socks5"])
        let slow = try connect(&stack, path: "/slow/{host}/{port}", ["--socks5"])
        let local = try connect(&stack, path: "/t/{host}/{port}", ["--socks5", "--allow", "localhost:\(originPort)"])
        let password = try connect(
            &stack, path: "/t/{host}/{port}", ["--socks5", "--proxy-user", "alice"], environment: ["PURR_PROXY_PASSWORD": "s3cret pass"])
        let closed = RunningProcess.freePort()
        let specs: [(spec: String, code: Int)] = [
            ("socks5://127.0.0.1:\(open)|127.0.0.1|\(originPort)", 0),
            ("socks5://127.0.0.1:\(open)|10.9.8.7|80", 2),  // 403: outside the server's allow list
            ("socks5://127.0.0.1:\(token)|127.0.0.1|\(originPort)", 2),  // 401: the route wants a token
            ("socks5://127.0.0.1:\(noRoute)|127.0.0.1|\(originPort)", 2),  // 404: no such route
            ("socks5://127.0.0.1:\(open)|127.0.0.1|\(closed)", 5),  // 502 connection refused
            ("socks5://127.0.0.1:\(open)|255.255.255.255|80", 4),  // 502 network unreachable
            ("socks5://127.0.0.1:\(slow)|127.0.0.1|\(originPort)", 6),  // 504: no target in time
            ("socks5://127.0.0.1:\(local)|127.0.0.1|\(originPort)", 2),  // this tunnel's own allow list
            ("socks5://127.0.0.1:\(local)|localhost|\(originPort)", 0),
            ("socks5://alice:s3cret%20pass@127.0.0.1:\(password)|localhost|\(originPort)", 0),
            ("raw|\(open)|2", 7),  // BIND
            ("raw|\(open)|3", 7),  // UDP ASSOCIATE
        ]
        let results = try DynamicPeers.socksProbe(specs.map(\.spec))
        XCTAssertEqual(results.count, specs.count)
        for (result, expected) in zip(results, specs) {
            XCTAssertEqual(result["code"] as? Int, expected.code, "\(expected.spec): \(result)")
            if expected.code == 0 { XCTAssertEqual(result["first"] as? String, "HTTP/1.0 200", expected.spec) }
        }
        // A wrong password is refused by RFC 1929 (python-socks reports it as an authentication failure).
        let wrong = try DynamicPeers.socksProbe(["socks5://alice:nope@127.0.0.1:\(password)|localhost|\(originPort)"])
        XCTAssertTrue("\(wrong)".contains("uthentication"), "\(wrong)")
        // Each refusal is one line naming its target.
        let openLog = stack.processes[0]
        XCTAssertTrue(TestKit.poll { openLog.stderr.contains("target=255.255.255.255:80") }, openLog.stderr)
        XCTAssertTrue(openLog.stderr.contains("failed") && openLog.stderr.contains("target=10.9.8.7:80"), openLog.stderr)
        XCTAssertTrue(stack.processes[4].stderr.contains("not in this tunnel's allow list"), stack.processes[4].stderr)
    }

    /// OpenSSH through `ProxyCommand nc -X 5 -x ...` to a real sshd reached through the dynamic tunnel:
    /// `ssh ... cat` returns 8 MiB byte for byte, the name passed on as a name.
    func testOpenSSHThroughNetcatSocks5IsByteExact() throws {
        var stack = try startServer()
        defer { stack.stop() }
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("purr-dyn-ssh-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        let (sshd, sshPort, key) = try DynamicPeers.sshd(in: directory)
        defer { sshd.stop() }
        let port = try connect(&stack, path: "/t/{host}/{port}", ["--socks5"])
        let payload = TestKit.randomPayload(count: 8 << 20, seed: 2225)
        let input = directory.appendingPathComponent("in.bin")
        let output = directory.appendingPathComponent("out.bin")
        try Data(payload).write(to: input)
        let result = try DynamicPeers.sshCat(socksPort: port, host: "localhost", port: sshPort, key: key, input: input, output: output)
        XCTAssertEqual(result.status, 0, "\(result.stderr) sshd: \(sshd.stderr)")
        let echoed = try [UInt8](Data(contentsOf: output))
        XCTAssertEqual(echoed.count, payload.count)
        XCTAssertEqual(TestKit.sha256(echoed), TestKit.sha256(payload))
        XCTAssertTrue(stack.processes[0].stderr.contains("target=localhost:\(sshPort)"), stack.processes[0].stderr)
    }

    /// Attacked: many connections that never finish their request (silent, or a greeting only) cost a
    /// few KiB each in the client, and a real client is served meanwhile and after; malformed requests
    /// get their protocol's refusal. (Measured while attacking it: 10,000 pending, 34 -> 71 MB RSS.)
    func testPendingHandshakesAreBoundedAndMalformedRequestsRefused() throws {
        var stack = try startServer()
        defer { stack.stop() }
        let (origin, originPort, payload) = try origin()
        defer { origin.stop() }
        let port = try connect(&stack, path: "/t/{host}/{port}", ["--socks5", "--http-proxy"])
        let client = stack.processes[0]
        var limit = rlimit()
        getrlimit(__rlimit_resource_t(RLIMIT_NOFILE.rawValue), &limit)
        limit.rlim_cur = min(limit.rlim_max, 4096)
        setrlimit(__rlimit_resource_t(RLIMIT_NOFILE.rawValue), &limit)
        let count = min(2000, Int(limit.rlim_cur) - 300)
        let before = try XCTUnwrap(TestKit.residentBytes(pid: client.pid))
        var pending: [BlockingSocket] = []
        for index in 0..<count {
            let socket = try BlockingSocket(port: port, timeout: 20)
            if index % 2 == 1 { try socket.write([5, 1, 0]) }
            pending.append(socket)
        }
        XCTAssertEqual(try pending[1].read(exactly: 2), [5, 0], "a greeting is answered even among thousands")
        let fresh = try curl(["--socks5-hostname", "127.0.0.1:\(port)", "http://localhost:\(originPort)/blob.bin"])
        XCTAssertEqual(fresh.status, 0, fresh.stderr)
        XCTAssertEqual(TestKit.sha256(fresh.body), TestKit.sha256(payload))
        let held = try XCTUnwrap(TestKit.residentBytes(pid: client.pid))
        XCTAssertLessThan(held - before, count * 16 * 1024, "\(count) pending requests: \(before) -> \(held) bytes")
        pending.removeAll()

        let malformed: [(bytes: [UInt8], reply: [UInt8])] = [
            ([5, 0], [5, 0xFF]),  // no methods
            ([5, 1, 0, 5, 1, 0, 7, 1, 2, 3, 4, 0, 80], [5, 0, 5, 8]),  // unknown address type
            ([5, 1, 0, 5, 1, 0, 3, 2, 0x2E, 0x2E, 0, 80], [5, 0, 5, 1]),  // '..' is no host
            ([5, 1, 0, 5, 9, 0, 1, 127, 0, 0, 1, 0, 80], [5, 0, 5, 7]),  // command 9
            ([4, 1, 0, 0, 127, 0, 0, 1, 0], [0, 0x5B]),  // SOCKS4 to port 0
        ]
        for (bytes, reply) in malformed {
            let socket = try BlockingSocket(port: port, timeout: 20)
            try socket.write(bytes)
            XCTAssertEqual(Array(try socket.readToEnd().prefix(reply.count)), reply, "\(bytes)")
        }
        let whole = try BlockingSocket(port: port, timeout: 20)
        try whole.write("GET http://localhost:\(originPort)/ HTTP/1.1\r\nX: \(String(repeating: "a", count: 17000))\r\n\r\n")
        XCTAssertEqual(try whole.readResponse().status, 431)
        let after = try curl(["-x", "http://127.0.0.1:\(port)", "http://127.0.0.1:\(originPort)/blob.bin"])
        XCTAssertEqual(TestKit.sha256(after.body), TestKit.sha256(payload), after.stderr)
    }

    func testHeadlessChromiumLoadsAPageThroughSocks5() throws {
        var stack = try startServer()
        defer { stack.stop() }
        let (origin, originPort, _) = try origin()
        defer { origin.stop() }
        let port = try connect(&stack, path: "/t/{host}/{port}", ["--socks5"])
        let chromium = try XCTUnwrap(ChromiumSession.chromiumCandidates.first { FileManager.default.isExecutableFile(atPath: $0) })
        let profile = FileManager.default.temporaryDirectory.appendingPathComponent("purr-chromium-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: profile) }
        let result = try RunningProcess.run(
            absolute: chromium,
            [
                "--headless=new", "--no-sandbox", "--disable-gpu", "--no-first-run", "--user-data-dir=\(profile.path)",
                // Chromium sends loopback straight out unless told otherwise.
                "--proxy-server=socks5://127.0.0.1:\(port)", "--proxy-bypass-list=<-loopback>",
                "--dump-dom", "http://localhost:\(originPort)/index.html",
            ], timeout: 60)
        XCTAssertTrue(result.stdout.contains("<p id=\"x\">through purr socks5</p>"), "\(result.stdout) \(result.stderr)")
        XCTAssertTrue(stack.processes[0].stderr.contains("target=localhost:\(originPort)"), stack.processes[0].stderr)
    }
}
