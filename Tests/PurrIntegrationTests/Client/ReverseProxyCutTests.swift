import Foundation
import PurrTestSupport
import XCTest

extension ReverseTunnelTests {
    /// Issue 28, point 4: held requests cut by a proxy are replaced. A real tinyproxy between the
    /// exposing client and the server cuts any tunnel idle for 2 s (its `Timeout`), long before the
    /// client's own refresh (20 s): every held request is cut again and again, each is replaced, and the
    /// published service answers after every round of cuts.
    func testHeldRequestsCutByAProxyAreReplaced() throws {
        let (origin, originPort, body) = try origin()
        defer { origin.stop() }
        let published = RunningProcess.freePort()
        let (server, serverPort) = try startServer(published: published)
        defer { server.stop() }
        let proxy = try TinyproxyProcess(connectPorts: [serverPort], timeout: 2)
        defer { proxy.stop() }
        let exposer = try expose(
            serverPort: serverPort, target: originPort, arguments: ["--proxy", "http://127.0.0.1:\(proxy.port)", "--pool", "2"])
        defer { exposer.stop() }
        XCTAssertEqual(try curl("http://127.0.0.1:\(published)/index.html").body, body, server.stderr + exposer.stderr)
        for round in 1...2 {
            // The server sees its held requests end: the proxy closed them (the client's own refresh is
            // 20 s away), then new ones come in.
            let cuts =
                server.stderr.components(separatedBy: "client gone").count
                + server.stderr.components(separatedBy: "reverse client released").count
            XCTAssertTrue(
                TestKit.poll(timeout: 15) {
                    server.stderr.components(separatedBy: "client gone").count
                        + server.stderr.components(separatedBy: "reverse client released").count
                        >= cuts + 2
                }, "round \(round): the proxy cut the held requests: \(server.stderr.suffix(2000))")
            // Replaced: the published service answers again (bounded: the replacements are dialed at once).
            XCTAssertTrue(
                TestKit.poll(timeout: 10) { (try? self.curl("http://127.0.0.1:\(published)/index.html").body) == body },
                "round \(round): the held requests were replaced: \(exposer.stderr.suffix(2000))")
            for _ in 0..<3 {
                XCTAssertEqual(try curl("http://127.0.0.1:\(published)/index.html").body, body, "round \(round)")
            }
        }
        XCTAssertNil(exposer.waitForExit(timeout: 0.1), "the client is still exposing: \(exposer.stderr.suffix(1500))")
    }
}
