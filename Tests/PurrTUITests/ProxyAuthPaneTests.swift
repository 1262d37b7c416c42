import Foundation
import PurrCore
import PurrTUI
import XCTest

@testable import PurrClient

/// The connections pane's title names the tunnel's proxy and where authentication to it stands.
final class ProxyAuthPaneTests: XCTestCase {
    func title(_ model: TUIModel) -> String? {
        let grid = ScreenRenderer.render(model, width: 160, height: 35)
        return (0..<grid.height).map { grid.row($0) }.first { $0.contains("Connections: ") }
    }

    func testTheProxyAndItsAuthenticationStateAreInTheTitle() throws {
        let name = "corp-\(UUID().uuidString.prefix(8))"
        var config = TunnelConfig(name: name, url: try ServerURL(parsing: "https://purr.example.com/db"))
        var model = TUIModel()
        model.update(snapshots: [TunnelSnapshot(config: config, state: .listening)], time: 0)
        XCTAssertFalse(try XCTUnwrap(title(model)).contains("proxy"), "no proxy, no proxy words")

        let proxy = try ProxySettings(parsing: "http://proxy.corp.example:3128")
        config.proxy = proxy
        model.update(snapshots: [TunnelSnapshot(config: config, state: .listening)], time: 0)
        XCTAssertTrue(try XCTUnwrap(title(model)).contains("· proxy proxy.corp.example:3128"), "before a connection: the proxy alone")

        let status = ProxyAuthBoard.shared.status(tunnel: name, proxy: proxy)
        defer { ProxyAuthBoard.shared.forget(tunnel: name) }
        status.chose("Negotiate", offered: ["Negotiate", "NTLM"])
        status.settled(.accepted(mutual: true))
        XCTAssertTrue(
            try XCTUnwrap(title(model)).contains("· proxy proxy.corp.example:3128 · Negotiate ok (mutual)"), title(model) ?? "")
        status.settled(.failed("refused by the proxy"))
        XCTAssertTrue(try XCTUnwrap(title(model)).contains("· Negotiate failed: refused by the proxy"), title(model) ?? "")
    }
}
