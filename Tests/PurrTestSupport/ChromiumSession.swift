import Foundation

/// A real Chromium driven through chromedriver's WebDriver HTTP API, headless (`--headless=new`,
/// which loads extensions), with its own profile. `quit()` ends the session and kills chromedriver,
/// Chromium and every process they started (found by parentage and by the profile path).
public final class ChromiumSession: @unchecked Sendable {
    public struct Failure: Error, CustomStringConvertible {
        public let description: String
        public init(description: String) { self.description = description }
    }

    public let profile: String
    let driver: RunningProcess
    let driverPort: Int
    var sessionID = ""

    public static let chromiumCandidates = ["/usr/bin/chromium", "/usr/bin/chromium-browser"]
    public static let driverCandidates = ["/usr/bin/chromedriver", "/usr/lib/chromium/chromedriver"]

    /// Starts chromedriver and a Chromium session.
    /// - Parameters:
    ///   - extensionDirectory: loaded unpacked with `--load-extension`.
    ///   - environment: passed to chromedriver, hence to Chromium and the native host it starts.
    public init(profile: String, extensionDirectory: String, environment: [String: String]) async throws {
        let fileManager = FileManager.default
        guard let chromium = Self.chromiumCandidates.first(where: { fileManager.isExecutableFile(atPath: $0) }) else {
            throw Failure(description: "chromium is not installed (apt-get install chromium; .ci/run does this)")
        }
        guard let chromedriver = Self.driverCandidates.first(where: { fileManager.isExecutableFile(atPath: $0) }) else {
            throw Failure(description: "chromedriver is not installed (apt-get install chromium-driver; .ci/run does this)")
        }
        self.profile = profile
        driverPort = RunningProcess.freePort()
        driver = try RunningProcess(
            absolute: chromedriver, ["--port=\(driverPort)", "--allowed-ips=127.0.0.1", "--log-level=WARNING"], environment: environment)
        var lastError = ""
        let ready = await TestKit.pollAsync(timeout: 20) {
            do {
                try await self.request("GET", "/status")
                return true
            } catch {
                lastError = "\(error)"
                return !self.driver.process.isRunning
            }
        }
        guard ready, driver.process.isRunning else {
            quit()
            throw Failure(description: "chromedriver did not start: \(lastError) \(driver.stdout) \(driver.stderr)")
        }
        let arguments = [
            "--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--no-first-run",
            "--no-default-browser-check", "--user-data-dir=\(profile)", "--load-extension=\(extensionDirectory)",
        ]
        let capabilities: [String: Any] = [
            "capabilities": ["alwaysMatch": ["goog:chromeOptions": ["binary": chromium, "args": arguments]]]
        ]
        do {
            let created = try await request("POST", "/session", capabilities)
            guard let id = (created as? [String: Any])?["sessionId"] as? String else {
                throw Failure(description: "no session id in \(created)")
            }
            sessionID = id
            _ = try await command("POST", "/timeouts", ["script": 30_000, "pageLoad": 30_000])
        } catch {
            quit()
            throw error
        }
    }

    deinit { quit() }

    /// One WebDriver call; returns its `value`, or throws the WebDriver error's message. (Plain
    /// HTTP/1.1 with `Connection: close` on a blocking socket: URLSession on Linux fails here.)
    @discardableResult
    public func request(_ method: String, _ path: String, _ body: Any? = nil) async throws -> Any {
        let payload = try body.map { try JSONSerialization.data(withJSONObject: $0) } ?? Data()
        let socket = try BlockingSocket(port: driverPort, timeout: 60)
        defer { socket.close() }
        var head = "\(method) \(path) HTTP/1.1\r\nHost: 127.0.0.1:\(driverPort)\r\nConnection: close\r\n"
        if body != nil { head += "Content-Type: application/json\r\nContent-Length: \(payload.count)\r\n" }
        try socket.write(Array((head + "\r\n").utf8) + Array(payload))
        let body = try Self.readBody(socket)
        let object = try JSONSerialization.jsonObject(with: Data(body), options: [.fragmentsAllowed])
        let value = (object as? [String: Any])?["value"] ?? NSNull()
        if let error = value as? [String: Any], let kind = error["error"] as? String {
            throw Failure(description: "WebDriver \(method) \(path): \(kind): \(error["message"] ?? "")")
        }
        return value
    }

    /// The body of a response with a Content-Length (chromedriver keeps the connection open).
    static func readBody(_ socket: BlockingSocket) throws -> [UInt8] {
        let (head, rest) = try socket.readHead()
        let lengthLine = head.split(separator: "\r\n").first { $0.lowercased().hasPrefix("content-length:") }
        guard let lengthLine, let length = Int(lengthLine.dropFirst("content-length:".count).trimmingCharacters(in: .whitespaces)) else {
            throw Failure(description: "chromedriver answered without a Content-Length: \(head)")
        }
        return rest.count >= length ? Array(rest.prefix(length)) : rest + (try socket.read(exactly: length - rest.count))
    }

    /// A call under this session.
    @discardableResult
    public func command(_ method: String, _ path: String, _ body: Any? = nil) async throws -> Any {
        try await request(method, "/session/\(sessionID)\(path)", body ?? (method == "POST" ? [String: Any]() : nil))
    }

    public func navigate(_ url: String) async throws {
        try await command("POST", "/url", ["url": url])
    }

    public var currentURL: String {
        get async throws { try await command("GET", "/url") as? String ?? "" }
    }

    /// Runs a script in the current tab; `arguments` arrive as `arguments[i]`.
    public func execute(_ script: String, _ arguments: [Any] = []) async throws -> Any {
        try await command("POST", "/execute/sync", ["script": script, "args": arguments])
    }

    /// Runs a script that ends by calling `done(value)` (the last argument WebDriver passes).
    public func executeAsync(_ script: String, _ arguments: [Any] = []) async throws -> Any {
        let wrapped = "const done = arguments[arguments.length - 1];\n" + script
        return try await command("POST", "/execute/async", ["script": wrapped, "args": arguments])
    }

    /// Opens a new tab, switches to it, returns its handle.
    public func newTab() async throws -> String {
        let created = try await command("POST", "/window/new", ["type": "tab"])
        guard let handle = (created as? [String: Any])?["handle"] as? String else { throw Failure(description: "no tab handle") }
        try await switchTo(handle)
        return handle
    }

    public func switchTo(_ handle: String) async throws {
        try await command("POST", "/window", ["handle": handle])
    }

    /// Closes the current tab.
    public func closeTab() async throws {
        try await command("DELETE", "/window")
    }

    /// Ends the session and kills every process of this browser, even after a failure.
    public func quit() {
        let root = driver.pid
        let tree = ProcessTable.descendants(of: root) + ProcessTable.matching(commandLine: profile)
        if !sessionID.isEmpty, let socket = try? BlockingSocket(port: driverPort, timeout: 15) {
            let head = "DELETE /session/\(sessionID) HTTP/1.1\r\nHost: 127.0.0.1:\(driverPort)\r\nConnection: close\r\n\r\n"
            _ = try? socket.write(head)
            _ = try? Self.readBody(socket)
            socket.close()
            sessionID = ""
        }
        if let socket = try? BlockingSocket(port: driverPort, timeout: 5) {
            _ = try? socket.write("GET /shutdown HTTP/1.1\r\nHost: 127.0.0.1:\(driverPort)\r\nConnection: close\r\n\r\n")
            _ = try? Self.readBody(socket)
            socket.close()
        }
        _ = driver.waitForExit(timeout: 5)
        driver.stop()
        for pid in Set(tree + ProcessTable.matching(commandLine: profile)) where pid != getpid() {
            kill(pid, SIGKILL)
        }
        TestKit.poll(timeout: 10) { ProcessTable.matching(commandLine: profile).isEmpty }
    }
}

/// What `/proc` says about running processes (Linux).
public enum ProcessTable {
    static func all() -> [(pid: Int32, parent: Int32)] {
        let entries = (try? FileManager.default.contentsOfDirectory(atPath: "/proc")) ?? []
        return entries.compactMap { entry in
            guard let pid = Int32(entry), let stat = try? String(contentsOfFile: "/proc/\(entry)/stat", encoding: .utf8),
                let close = stat.lastIndex(of: ")")
            else { return nil }
            let fields = stat[stat.index(after: close)...].split(separator: " ")
            guard fields.count > 2, let parent = Int32(fields[1]) else { return nil }
            return (pid, parent)
        }
    }

    /// Every process below `root` (children, their children...).
    public static func descendants(of root: Int32) -> [Int32] {
        let table = all()
        var found: Set<Int32> = []
        var frontier: Set<Int32> = [root]
        while !frontier.isEmpty {
            let next = Set(table.filter { frontier.contains($0.parent) }.map(\.pid)).subtracting(found)
            found.formUnion(next)
            frontier = next
        }
        return Array(found)
    }

    /// Processes whose command line contains `text` (e.g. a temporary profile path).
    public static func matching(commandLine text: String) -> [Int32] {
        all().compactMap { entry in
            guard entry.pid != getpid(), let data = FileManager.default.contents(atPath: "/proc/\(entry.pid)/cmdline") else { return nil }
            let line = String(decoding: data.map { $0 == 0 ? 32 : $0 }, as: UTF8.self)
            return line.contains(text) ? entry.pid : nil
        }
    }
}
