import Foundation
import PurrCore
import PurrServer
import PurrTestSupport
import XCTest

/// One project version: every executable's `--version` and the server's `/stats` say the same.
final class VersionTests: XCTestCase {
    func testEveryExecutablePrintsTheProjectVersionAndStatsAgrees() async throws {
        XCTAssertNotEqual(PurrVersion.current, PurrWire.clientVersion, "the project version is not the wire version")
        for program in ["purr", "purr-server", "purr-tui", "purr-bench"] {
            let result = try RunningProcess.run(program, ["--version"])
            XCTAssertEqual(result.status, 0, "\(program): \(result.stderr)")
            XCTAssertEqual(result.stdout, "\(PurrVersion.current)\n", program)
        }
        let server = try await InProcessServer.start(routes: [])
        XCTAssertEqual(server.registry.snapshot().server.version, PurrVersion.current)
        await server.shutdown(drainTimeout: 0)
    }
}
