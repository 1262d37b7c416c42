import PurrClient
import PurrCore
import XCTest

@testable import PurrTUI

/// The add/edit form's Mode `reverse` and its Target field.
final class ReverseFormTests: XCTestCase {
    func testReverseModeNeedsATargetAndKeepsIt() throws {
        var form = TunnelForm(editing: nil)
        form.values = ["lab", "http://127.0.0.1:8080/rev/web", "127.0.0.1:0", "reverse", "", ""]
        XCTAssertThrowsError(try form.build(base: nil)) { error in
            XCTAssertEqual((error as? ConfigError)?.message, "Target: a reverse tunnel needs the local service, like 127.0.0.1:22")
        }
        form.values[5] = "127.0.0.1:22"
        let config = try form.build(base: nil)
        XCTAssertEqual(config.mode, .reverse)
        XCTAssertEqual(config.target, HostPort(host: "127.0.0.1", port: 22))
        XCTAssertEqual(TunnelForm(editing: config).values[5], "127.0.0.1:22", "edit shows the target")
        form.values[3] = "fixed"
        XCTAssertThrowsError(try form.build(base: nil)) { error in
            XCTAssertEqual((error as? ConfigError)?.message, "Target: only for a reverse tunnel (Mode reverse)")
        }
    }
}
