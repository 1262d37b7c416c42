import Foundation
import PurrTestSupport
import XCTest

/// A page in a real headless Chromium reaches a TCP target through the built `purr-server` with nothing
/// but `new WebSocket(...)`: no extension, no host. The origin must be one the server lists.
final class WebSocketBrowserTests: XCTestCase {
    static let page = """
        <!doctype html><title>ws</title><script>
        // Sends `size` pseudo-random bytes in 64 KiB messages; collects `expect` bytes; closes; reports.
        window.roundTrip = (url, size, banner) => new Promise((resolve) => {
          const data = new Uint8Array(size);
          let x = 0x2545F491;
          for (let i = 0; i < size; i++) { x ^= x << 13; x ^= x >>> 17; x ^= x << 5; data[i] = x & 0xff; }
          const head = new TextEncoder().encode(banner);
          const expected = new Uint8Array(head.length + size);
          expected.set(head); expected.set(data, head.length);
          const got = new Uint8Array(expected.length);
          let n = 0, overflow = false;
          const ws = new WebSocket(url);
          ws.binaryType = "arraybuffer";
          ws.onopen = () => { for (let i = 0; i < size; i += 65536) ws.send(data.subarray(i, Math.min(size, i + 65536))); };
          ws.onmessage = (e) => {
            const chunk = new Uint8Array(e.data);
            if (n + chunk.length > got.length) { overflow = true; return; }
            got.set(chunk, n); n += chunk.length;
            if (n === got.length) ws.close(1000);
          };
          ws.onclose = (e) => {
            let same = n === expected.length && !overflow;
            for (let i = 0; same && i < n; i++) if (got[i] !== expected[i]) same = false;
            resolve({same, received: n, code: e.code, clean: e.wasClean});
          };
        });
        </script><p>websocket page</p>
        """

    func testAPageReachesATCPTargetWithNewWebSocket() async throws {
        let work = FileManager.default.temporaryDirectory.appendingPathComponent("purr-ws-chromium-\(UUID().uuidString)").path
        defer { try? FileManager.default.removeItem(atPath: work) }
        let target = try await TestTarget.start(.echo(banner: "HELLO\n"), group: InProcessServer.group)
        let pages = try await StaticHTTPServer.start(files: ["/ws.html": Self.page], group: InProcessServer.group)
        defer { pages.close() }
        let serverPort = RunningProcess.freePort()
        let server = try RunningProcess(
            "purr-server",
            [
                "--listen", "127.0.0.1:\(serverPort)", "--route", "/echo=127.0.0.1:\(target.port)",
                "--ws-origin", "http://127.0.0.1:\(pages.port)",
            ])
        defer { server.stop() }
        XCTAssertTrue(server.waitForOutput("listening on"), server.stderr)
        let extensionDirectory = BrowserFixture.browserDirectory.appendingPathComponent("extension").path
        let chromium = try await ChromiumSession(profile: "\(work)/profile", extensionDirectory: extensionDirectory, environment: [:])
        defer { chromium.quit() }
        let url = "ws://127.0.0.1:\(serverPort)/echo"
        let size = 1 << 20

        try await chromium.navigate("http://127.0.0.1:\(pages.port)/ws.html")
        let result = try await chromium.executeAsync("window.roundTrip(arguments[0], arguments[1], 'HELLO\\n').then(done)", [url, size])
        let outcome = try XCTUnwrap(result as? [String: Any])
        XCTAssertEqual(outcome["same"] as? Bool, true, "\(outcome)")
        XCTAssertEqual(outcome["received"] as? Int, 6 + size)
        XCTAssertEqual(outcome["code"] as? Int, 1000, "a clean close handshake: \(outcome)")
        XCTAssertTrue(server.waitForOutput(" close"), server.stderr)
        let close = try XCTUnwrap(server.stderr.split(separator: "\n").first { $0.hasSuffix(" close") })
        XCTAssertTrue(
            close.contains("in=\(size)") && close.contains("out=\(6 + size)") && close.contains("transport=websocket"), String(close))

        // Another origin (same pages, other host name) is refused before any target is reached.
        let accepted = target.acceptedCount
        try await chromium.navigate("http://localhost:\(pages.port)/ws.html")
        let refused = try await chromium.executeAsync("window.roundTrip(arguments[0], 16, '').then(done)", [url])
        let refusal = try XCTUnwrap(refused as? [String: Any])
        XCTAssertEqual(refusal["received"] as? Int, 0, "\(refusal)")
        XCTAssertEqual(refusal["code"] as? Int, 1006, "\(refusal)")
        XCTAssertTrue(server.waitForOutput("status=403"), server.stderr)
        XCTAssertTrue(server.stderr.contains("WebSocket origin http://localhost:\(pages.port) is not allowed"), server.stderr)
        XCTAssertEqual(target.acceptedCount, accepted)
        chromium.quit()
        XCTAssertEqual(ProcessTable.matching(commandLine: "\(work)/profile"), [], "browser processes left running")
    }
}
