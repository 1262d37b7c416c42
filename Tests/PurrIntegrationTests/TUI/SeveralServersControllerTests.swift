import Foundation
import PurrClient
import PurrCore
import PurrTUI
import PurrTestSupport
import XCTest

/// The form's URL list and Servers field through the keys, against a real engine: saved to the file
/// (read back as a list with its choice), shown in the row, and shown again when edited.
final class SeveralServersControllerTests: XCTestCase {
    func testATunnelWithTwoServersIsAddedSavedAndEdited() throws {
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("tui-\(UUID().uuidString)/tunnels.toml").path
        defer { try? FileManager.default.removeItem(atPath: (path as NSString).deletingLastPathComponent) }
        let engine = TunnelEngine(group: InProcessServer.group, logger: InProcessServer.quietLogger, environment: [:])
        let themes = ThemeLibrary(userDirectory: "/nonexistent", bundledDirectory: RepositoryPaths.themes)
        let controller = TUIController(
            engine: engine, file: TunnelsFile(), configPath: path, streams: [], themes: themes, theme: try themes.load("default"),
            colorsAvailable: true)
        defer { controller.stop() }
        func type(_ text: String) { for character in text { _ = controller.handle(.character(character)) } }

        _ = controller.handle(.character("a"))
        type("pair")
        _ = controller.handle(.tab)
        for _ in 0..<7 { _ = controller.handle(.backspace) }
        type("http://127.0.0.1:9/a, http://127.0.0.1:10/b")
        // Shift-Tab from Name wraps to the last field, Servers.
        for _ in 0..<2 { _ = controller.handle(.backTab) }
        for _ in 0..<8 { _ = controller.handle(.backspace) }
        type("spread")
        _ = controller.handle(.enter)
        XCTAssertEqual(controller.model.mode, .normal, "\(controller.model.mode)")
        XCTAssertEqual(controller.model.status?.isError, false, controller.model.status?.text ?? "")
        let saved = try XCTUnwrap(try TunnelsFile.load(file: path).tunnels.first)
        XCTAssertEqual(saved.serverURLs.map(\.port), [9, 10], "both servers saved, in order")
        XCTAssertEqual(saved.serverChoice, .spread)
        XCTAssertEqual(engine.tunnel(named: "pair")?.config.serverCount, 2, "the engine has the list")

        controller.refresh()
        let grid = ScreenRenderer.render(controller.model, width: 160, height: 35)
        let row = try XCTUnwrap((0..<grid.height).map(grid.row).first { $0.contains("pair") && $0.contains("closed") })
        XCTAssertTrue(row.contains("2 servers") && row.contains("/a +1"), "a closed tunnel: its count from the config: \(row)")

        _ = controller.handle(.character("e"))
        guard case .form(let form) = controller.model.mode else { return XCTFail("e opens the form") }
        XCTAssertEqual(form.values[1], "http://127.0.0.1:9/a http://127.0.0.1:10/b")
        XCTAssertEqual(form.values[6], "spread")
    }
}
