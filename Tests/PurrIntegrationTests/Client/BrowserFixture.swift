import Foundation
import PurrClient
import PurrTestSupport
import XCTest

/// What the browser tests share: a real Chromium with `browser/extension` loaded unpacked, a
/// `purr-server` (the built binary) in front of an echo server, test pages on 127.0.0.1, and
/// `tunnels.toml` allowing `http://127.0.0.1:*`. `stop()` ends everything (call it in a `defer`).
final class BrowserFixture: @unchecked Sendable {
    static let repository = RepositoryPaths.root
    static let browserDirectory = repository.appendingPathComponent("browser")
    static let popupURL = "chrome-extension://\(NativeHostManifest.chromeExtensionID)/popup.html"

    let work: String
    let profile: String
    let tunnelsFile: String
    let target: TestTarget
    let server: RunningProcess
    let serverPort: Int
    let pages: StaticHTTPServer
    let chromium: ChromiumSession
    let started = Date()

    /// The allowed origin, another one that is not, and the echo route's URL.
    var site: String { "http://127.0.0.1:\(pages.port)" }
    var otherSite: String { "http://localhost:\(pages.port)" }
    var echoURL: String { "http://127.0.0.1:\(serverPort)/echo" }

    init(installHost: Bool = true) async throws {
        work = FileManager.default.temporaryDirectory.appendingPathComponent("purr-chromium-\(UUID().uuidString)").path
        profile = "\(work)/profile"
        let configHome = "\(work)/config"
        try FileManager.default.createDirectory(atPath: "\(configHome)/purr", withIntermediateDirectories: true)
        tunnelsFile = "\(configHome)/purr/tunnels.toml"
        try "[browser]\nallowed_origins = [\"http://127.0.0.1:*\"]\n".write(toFile: tunnelsFile, atomically: true, encoding: .utf8)
        target = try await TestTarget.start(.echo(banner: nil), group: InProcessServer.group)
        serverPort = RunningProcess.freePort()
        server = try RunningProcess("purr-server", ["--listen", "127.0.0.1:\(serverPort)", "--route", "/echo=127.0.0.1:\(target.port)"])
        pages = try await StaticHTTPServer.start(files: try Self.pages(), group: InProcessServer.group)
        do {
            guard server.waitForOutput("listening on") else {
                throw ChromiumSession.Failure(description: "purr-server did not start: \(server.stderr)")
            }
            chromium = try await ChromiumSession(
                profile: profile, extensionDirectory: Self.browserDirectory.appendingPathComponent("extension").path,
                environment: ["XDG_CONFIG_HOME": configHome])
        } catch {
            server.stop()
            pages.close()
            throw error
        }
        if installHost { try self.installHost() }
    }

    static func pages() throws -> [String: String] {
        [
            "/purr.js": try String(contentsOf: browserDirectory.appendingPathComponent("purr.js"), encoding: .utf8),
            "/purr.mjs": try String(contentsOf: browserDirectory.appendingPathComponent("purr.mjs"), encoding: .utf8),
            "/test.html": "<!doctype html><title>t</title><script src=\"/purr.js\"></script><p>library page</p>",
            "/module.html": """
            <!doctype html><title>m</title>
            <script type="module">import Purr from '/purr.mjs'; window.modulePurr = Purr;</script>
            """,
            "/raw.html": """
            <!doctype html><title>raw</title><script>
            window.replies = [];
            document.addEventListener('Purr.Response', (e) => window.replies.push(e.detail));
            window.send = (msg) => document.dispatchEvent(new CustomEvent('Purr.Request', {detail: msg}));
            </script><p>raw protocol page</p>
            """,
        ]
    }

    /// `purr native-host --install chromium --dir <profile>/NativeMessagingHosts`, as a user would.
    func installHost() throws {
        let folder = "\(profile)/NativeMessagingHosts"
        let install = try RunningProcess.run("purr", ["native-host", "--install", "chromium", "--dir", folder])
        XCTAssertEqual(install.status, 0, install.stderr)
        XCTAssertTrue(install.stdout.hasPrefix("wrote \(folder)/purr.json"), install.stdout)
        let data = try Data(contentsOf: URL(fileURLWithPath: "\(folder)/purr.json"))
        let manifest = try XCTUnwrap(try JSONSerialization.jsonObject(with: data) as? [String: Any])
        XCTAssertEqual(manifest["allowed_origins"] as? [String], ["chrome-extension://\(NativeHostManifest.chromeExtensionID)/"])
    }

    /// Ends Chromium (and every process it started), the server and the pages; removes the files.
    func stop() {
        chromium.quit()
        XCTAssertEqual(ProcessTable.matching(commandLine: profile), [], "browser processes left running")
        server.stop()
        pages.close()
        try? FileManager.default.removeItem(atPath: work)
    }

    /// A progress line on standard error (where a slow step shows in CI's log).
    func mark(_ what: String) {
        let seconds = String(format: "%.1f", Date().timeIntervalSince(started))
        FileHandle.standardError.write(Data("[browser test] \(seconds) s: \(what)\n".utf8))
    }

    /// Runs page JavaScript that yields a value or a Promise; a rejection comes back as `.failure`.
    func call(_ expression: String, _ arguments: [Any] = []) async throws -> Result<Any, ChromiumSession.Failure> {
        let script = """
            Promise.resolve().then(() => \(expression)).then(
                (v) => done({ok: v === undefined ? null : v}),
                (e) => done({rejected: String(e && e.message || e)}));
            """
        let answer = try await chromium.executeAsync(script, arguments) as? [String: Any]
        if let error = answer?["rejected"] as? String { return .failure(ChromiumSession.Failure(description: error)) }
        return .success(answer?["ok"] ?? NSNull())
    }

    /// Like `call`, throwing on a rejection.
    func value(_ expression: String, _ arguments: [Any] = []) async throws -> Any {
        try await call(expression, arguments).get()
    }

    /// `Purr.open(url)` on the current page; the local port.
    func open(_ url: String) async throws -> Int {
        let port = try await value("Purr.open(arguments[0])", [url])
        return try XCTUnwrap(port as? Int, "Purr.open gave \(port)")
    }

    /// Polls until nothing listens on the port any more.
    func refuses(_ port: Int) -> Bool {
        TestKit.poll(timeout: 10) { (try? BlockingSocket(port: port)) == nil }
    }

    /// Polls until a script's value satisfies a check.
    func waitFor(_ expression: String, timeout: Double = 10, _ check: @escaping (Any?) -> Bool) async -> Bool {
        await TestKit.pollAsync(timeout: timeout) { check(try? await self.value(expression)) }
    }

    /// Opens the popup in a tab of its own, showing the tunnels of the only other tab; returns that tab's id.
    func openPopup() async throws -> Int {
        _ = try await chromium.newTab()
        try await chromium.navigate(Self.popupURL)
        let ids = try await value(
            "Promise.all([chrome.tabs.query({}), chrome.tabs.getCurrent()]).then(([all, me]) => all.map((t) => t.id).filter((id) => id !== me.id))"
        )
        let others = try XCTUnwrap(ids as? [Int])
        XCTAssertEqual(others.count, 1, "tabs besides the popup: \(others)")
        let tab = try XCTUnwrap(others.first)
        try await chromium.navigate("\(Self.popupURL)?tab=\(tab)")
        return tab
    }

    /// One round trip of `text` through a local port.
    func echo(_ text: String, port: Int) throws {
        let socket = try BlockingSocket(port: port)
        defer { socket.close() }
        try socket.write(text)
        XCTAssertEqual(try socket.read(exactly: text.utf8.count), Array(text.utf8))
    }
}
