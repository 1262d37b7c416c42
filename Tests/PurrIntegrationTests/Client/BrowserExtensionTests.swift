import Foundation
import PurrClient
import PurrTestSupport
import XCTest

/// The browser half end to end: a real Chromium (headless, chromedriver) loads `browser/extension`
/// unpacked, the host is installed with `purr native-host --install chromium --dir`, and pages
/// served from 127.0.0.1 use `browser/purr.js` (or the raw CustomEvent protocol) to open tunnels
/// to a real `purr-server`. See `BrowserFixture`.
final class BrowserExtensionTests: XCTestCase {
    /// Before the host is installed, then the library's whole round: available, open, 4 MiB through
    /// the port, status, tunnels (bytes counted, also in the popup), close, a missing route, a bad URL.
    func testPageLibraryAndPopup() async throws {
        let browser = try await BrowserFixture(installHost: false)
        defer { browser.stop() }
        let pageTab = try await browser.chromium.command("GET", "/window") as? String ?? ""
        try await browser.chromium.navigate("\(browser.site)/test.html")
        let availableWithoutHost = try await browser.value("Purr.available()")
        XCTAssertEqual(availableWithoutHost as? Bool, false)
        let withoutHost = try await browser.call("Purr.open(arguments[0])", [browser.echoURL])
        XCTAssertThrowsError(try withoutHost.get()) {
            XCTAssertTrue("\($0)".contains("lost its connection to the purr host (Specified native messaging host not found.)"), "\($0)")
        }

        try browser.installHost()
        let available = try await browser.value("Purr.available()")
        XCTAssertEqual(available as? Bool, true)
        let port = try await browser.open(browser.echoURL)
        let payload = TestKit.randomPayload(count: 4 << 20)
        let socket = try BlockingSocket(port: port)
        let outcome = try Duplex.exchange(socket, payload: payload)
        socket.close()
        XCTAssertEqual(outcome.receivedBytes, payload.count)
        XCTAssertEqual(outcome.receivedSHA256, TestKit.sha256(payload))
        let status = try await browser.value("Purr.status()")
        XCTAssertEqual(status as? [Int], [port])
        var details: [String: Any] = [:]
        let counted = await browser.waitFor("Purr.tunnels()") { value in
            details = (value as? [[String: Any]])?.first ?? [:]
            return details["bytesUp"] as? Int == payload.count && details["bytesDown"] as? Int == payload.count
        }
        XCTAssertTrue(counted, "\(details)")
        XCTAssertEqual(details["port"] as? Int, port)
        XCTAssertEqual(details["url"] as? String, browser.echoURL)
        XCTAssertEqual(details["state"] as? String, "listening")

        // The popup, in a tab of its own, shows the page's tab's tunnel.
        _ = try await browser.openPopup()
        var row = ""
        let shown = await browser.waitFor("document.querySelector('tr[data-port=\"\(port)\"]')?.textContent ?? ''") { value in
            row = value as? String ?? ""
            return row.contains(browser.echoURL) && row.contains("4.0 MiB")
        }
        XCTAssertTrue(shown, "popup row: '\(row)'")

        // Close: the port refuses afterwards.
        try await browser.chromium.switchTo(pageTab)
        let closed = try await browser.call("Purr.close(arguments[0])", [port])
        XCTAssertNoThrow(try closed.get())
        XCTAssertTrue(browser.refuses(port), "port \(port) still accepts after close")
        let statusAfter = try await browser.value("Purr.status()")
        XCTAssertEqual(statusAfter as? [Int], [])

        // A missing route: the tunnel opens, its connection fails, the details say why.
        let missing = try await browser.open("http://127.0.0.1:\(browser.serverPort)/missing")
        let failing = try BlockingSocket(port: missing)
        XCTAssertEqual(try failing.readToEnd(), [], "the tunnel's connection to a missing route ends")
        failing.close()
        var lastError = ""
        let explained = await browser.waitFor("Purr.tunnels()") { value in
            lastError = (value as? [[String: Any]])?.first?["lastError"] as? String ?? ""
            return !lastError.isEmpty
        }
        XCTAssertTrue(explained, "no lastError for the missing route")
        XCTAssertTrue(lastError.contains("404"), lastError)
        browser.mark("missing route: \(lastError)")
        let badURL = try await browser.call("Purr.open('ftp://x')")
        XCTAssertThrowsError(try badURL.get()) { XCTAssertTrue("\($0)".contains("unsupported scheme 'ftp'"), "\($0)") }
    }

    /// Navigating away closes the tab's tunnels; a page written against the original's raw
    /// CustomEvent protocol (no library) works, and cannot send the popup's commands.
    func testNavigationAndTheRawProtocol() async throws {
        let browser = try await BrowserFixture()
        defer { browser.stop() }
        try await browser.chromium.navigate("\(browser.site)/test.html")
        let first = try await browser.open(browser.echoURL)
        try await browser.chromium.navigate("\(browser.site)/raw.html")
        XCTAssertTrue(browser.refuses(first), "navigation left port \(first) open")

        _ = try await browser.chromium.execute("send({seq: 1, cmd: 'open', args: {url: arguments[0]}})", [browser.echoURL])
        _ = try await browser.chromium.execute("send({seq: 'two', cmd: 'status', src: 999, origin: 'https://forged.example'})")
        _ = try await browser.chromium.execute("send({seq: 3, cmd: 'allow', args: {origin: 'https://evil.example'}})")
        var replies: [[String: Any]] = []
        let answered = await browser.waitFor("window.replies") { value in
            replies = value as? [[String: Any]] ?? []
            return replies.count >= 3
        }
        XCTAssertTrue(answered, "\(replies)")
        let opened = try XCTUnwrap(replies.first { $0["seq"] as? Int == 1 })
        XCTAssertEqual(opened["status"] as? String, "listening")
        let tab = try XCTUnwrap(opened["dst"] as? Int, "src is the tab id, replies come back by dst")
        XCTAssertNotEqual(tab, 999, "the page cannot choose its src")
        let rawPort = try XCTUnwrap(opened["args"] as? Int)
        try browser.echo("raw", port: rawPort)
        let status = try XCTUnwrap(replies.first { $0["seq"] as? String == "two" })
        XCTAssertEqual(status["status"] as? String, "running", "a forged origin is replaced by the real one")
        XCTAssertEqual(status["dst"] as? Int, tab)
        XCTAssertEqual(status["args"] as? [Int], [rawPort])
        let allow = try XCTUnwrap(replies.first { $0["seq"] as? Int == 3 })
        XCTAssertEqual(allow["error"] as? String, "'allow' is only for the Purr extension's popup")

        try await browser.chromium.navigate("\(browser.site)/module.html")
        XCTAssertTrue(browser.refuses(rawPort), "navigation left port \(rawPort) open")
        let moduleLoaded = await browser.waitFor("window.modulePurr !== undefined") { $0 as? Bool == true }
        XCTAssertTrue(moduleLoaded, "purr.mjs did not load as a module")
        let moduleAvailable = try await browser.value("window.modulePurr.available()")
        XCTAssertEqual(moduleAvailable as? Bool, true)
    }

    /// A page from an origin that is not allowed is refused, allowed after the popup's Allow (saved in
    /// tunnels.toml), and refused again after Revoke; closing the tab closes its tunnels.
    func testOriginAllowRevokeAndTabClose() async throws {
        let browser = try await BrowserFixture()
        defer { browser.stop() }
        let pageTab = try await browser.chromium.command("GET", "/window") as? String ?? ""
        try await browser.chromium.navigate("\(browser.otherSite)/test.html")
        let availableRefused = try await browser.value("Purr.available()")
        XCTAssertEqual(availableRefused as? Bool, false)
        let refused = try await browser.call("Purr.open(arguments[0])", [browser.echoURL])
        XCTAssertThrowsError(try refused.get()) {
            XCTAssertTrue("\($0)".contains("origin '\(browser.otherSite)' is not allowed"), "\($0)")
        }

        _ = try await browser.openPopup()
        let popupTab = try await browser.chromium.command("GET", "/window") as? String ?? ""
        let button = "button[data-origin=\"\(browser.otherSite)\"]"
        let offered = await browser.waitFor("document.querySelector('#refused \(button)') !== null") { $0 as? Bool == true }
        XCTAssertTrue(offered, "the popup does not offer to allow \(browser.otherSite)")
        _ = try await browser.value("document.querySelector('#refused \(button)').click()")
        let listed = await browser.waitFor("document.querySelector('#allowed \(button)') !== null") { $0 as? Bool == true }
        XCTAssertTrue(listed, "the popup does not list \(browser.otherSite) as allowed")
        let saved = try String(contentsOfFile: browser.tunnelsFile, encoding: .utf8)
        XCTAssertTrue(saved.contains("allowed_origins = [\"http://127.0.0.1:*\", \"\(browser.otherSite)\"]"), saved)

        try await browser.chromium.switchTo(pageTab)
        let availableAllowed = try await browser.value("Purr.available()")
        XCTAssertEqual(availableAllowed as? Bool, true)
        let port = try await browser.open(browser.echoURL)
        try browser.echo("allowed", port: port)

        try await browser.chromium.switchTo(popupTab)
        _ = try await browser.value("document.querySelector('#allowed \(button)').click()")
        let revoked = await browser.waitFor("document.querySelector('#allowed \(button)') === null") { $0 as? Bool == true }
        XCTAssertTrue(revoked, "the popup still lists \(browser.otherSite) as allowed")
        let savedAgain = try String(contentsOfFile: browser.tunnelsFile, encoding: .utf8)
        XCTAssertTrue(savedAgain.contains("allowed_origins = [\"http://127.0.0.1:*\"]"), savedAgain)
        try await browser.chromium.switchTo(pageTab)
        let availableRevoked = try await browser.value("Purr.available()")
        XCTAssertEqual(availableRevoked as? Bool, false)

        try await browser.chromium.closeTab()
        XCTAssertTrue(browser.refuses(port), "closing the tab left port \(port) open")
    }

    /// MV3 stops an idle service worker after 30 s, but an open native port keeps it (Chrome 105+):
    /// through 35 s of the extension doing nothing, the tab's tunnel keeps relaying (checked every
    /// half second). Stopped anyway (here by DevTools), the page hears 'disconnected', the tunnel
    /// closes with its host, and the next call starts a new worker and host.
    func testServiceWorkerIdleAndStop() async throws {
        let browser = try await BrowserFixture()
        defer { browser.stop() }
        try await browser.chromium.navigate("\(browser.site)/test.html")
        _ = try await browser.chromium.execute("window.disconnects = 0; Purr.addEventListener('disconnected', () => window.disconnects++)")
        let kept = try await browser.open(browser.echoURL)
        let idleEnd = Date().addingTimeInterval(35)
        var relayed = 0
        while Date() < idleEnd {
            try browser.echo("idle \(relayed)", port: kept)
            relayed += 1
            TestKit.poll(timeout: 0.5) { Date() >= idleEnd }
        }
        browser.mark("idle window over: \(relayed) round trips through the tunnel")
        let keptStatus = try await browser.value("Purr.status()")
        XCTAssertEqual(keptStatus as? [Int], [kept])
        let quiet = try await browser.chromium.execute("return window.disconnects")
        XCTAssertEqual(quiet as? Int, 0, "the worker was stopped while the tab had a tunnel")

        try await browser.chromium.command("POST", "/goog/cdp/execute", ["cmd": "ServiceWorker.enable", "params": [String: Any]()])
        try await browser.chromium.command("POST", "/goog/cdp/execute", ["cmd": "ServiceWorker.stopAllWorkers", "params": [String: Any]()])
        let heard = await TestKit.pollAsync(timeout: 10) {
            (try? await browser.chromium.execute("return window.disconnects")) as? Int == 1
        }
        XCTAssertTrue(heard, "the page did not hear 'disconnected'")
        XCTAssertTrue(browser.refuses(kept), "the tunnel outlived its host")
        let restarted = try await browser.open(browser.echoURL)
        try browser.echo("again", port: restarted)
    }
}
