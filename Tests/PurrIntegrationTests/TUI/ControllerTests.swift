import Foundation
import PurrClient
import PurrCore
import PurrTUI
import PurrTestSupport
import XCTest

/// Keys against a real engine: add, edit and delete tunnels, with the config saved atomically.
final class ControllerTests: XCTestCase {
    func makeController(path: String?, tunnels: [TunnelConfig] = []) throws -> TUIController {
        let engine = TunnelEngine(group: InProcessServer.group, logger: InProcessServer.quietLogger, environment: [:])
        for tunnel in tunnels { try engine.add(tunnel) }
        let themes = ThemeLibrary(userDirectory: "/nonexistent", bundledDirectory: RepositoryPaths.themes)
        let controller = TUIController(
            engine: engine, file: TunnelsFile(tunnels: tunnels), configPath: path, streams: [], themes: themes,
            theme: try themes.load("default"), colorsAvailable: true)
        controller.refresh()
        return controller
    }

    func type(_ text: String, into controller: TUIController) {
        for character in text { _ = controller.handle(.character(character)) }
    }

    func tempPath() -> String {
        FileManager.default.temporaryDirectory.appendingPathComponent("tui-\(UUID().uuidString)/tunnels.toml").path
    }

    func testAddEditDeleteAreSavedToTheConfig() throws {
        let path = tempPath()
        let controller = try makeController(path: path)
        _ = controller.handle(.character("a"))
        type("web", into: controller)
        _ = controller.handle(.tab)
        for _ in 0..<7 { _ = controller.handle(.backspace) }
        type("http://127.0.0.1:9/web", into: controller)
        _ = controller.handle(.tab)
        for _ in 0..<11 { _ = controller.handle(.backspace) }
        type("localhost:0", into: controller)
        _ = controller.handle(.enter)
        XCTAssertEqual(controller.model.mode, .normal)
        XCTAssertEqual(controller.model.status?.isError, false)
        var saved = try TunnelsFile.load(file: path)
        XCTAssertEqual(saved.tunnels.map(\.name), ["web"])
        XCTAssertEqual(saved.tunnels.first?.listen, ListenAddress(host: "localhost", port: 0))
        XCTAssertNotNil(controller.engine.tunnel(named: "web"))
        let leftovers = try FileManager.default.contentsOfDirectory(atPath: (path as NSString).deletingLastPathComponent)
        XCTAssertEqual(leftovers, ["tunnels.toml"], "no temporary file is left behind")

        controller.refresh()
        _ = controller.handle(.character("e"))
        _ = controller.handle(.backspace)
        _ = controller.handle(.backspace)
        type("b2", into: controller)
        _ = controller.handle(.enter)
        saved = try TunnelsFile.load(file: path)
        XCTAssertEqual(saved.tunnels.map(\.name), ["wb2"])

        XCTAssertTrue(TestKit.poll { controller.engine.tunnel(named: "wb2") != nil })
        controller.refresh()
        _ = controller.handle(.character("d"))
        XCTAssertEqual(controller.model.mode, .confirmDelete("wb2"))
        _ = controller.handle(.character("n"))
        XCTAssertEqual(try TunnelsFile.load(file: path).tunnels.count, 1, "anything but y keeps it")
        _ = controller.handle(.character("d"))
        _ = controller.handle(.character("y"))
        XCTAssertEqual(try TunnelsFile.load(file: path).tunnels.count, 0)
    }

    func testFormRefusesBadInputInWords() throws {
        let controller = try makeController(path: tempPath())
        _ = controller.handle(.character("a"))
        type("x", into: controller)
        _ = controller.handle(.tab)
        for _ in 0..<7 { _ = controller.handle(.backspace) }
        type("ftp://files", into: controller)
        _ = controller.handle(.enter)
        guard case .form(let form) = controller.model.mode else { return XCTFail("the form stays open") }
        XCTAssertEqual(form.error, "URL: 'ftp://files': unsupported scheme 'ftp' (expected http, https, ws or wss)")
        _ = controller.handle(.escape)
        XCTAssertEqual(controller.model.mode, .normal)
    }

    func testAWriteErrorIsShownNotLost() throws {
        let blocker = FileManager.default.temporaryDirectory.appendingPathComponent("blocker-\(UUID().uuidString)").path
        try "a file, not a directory".write(toFile: blocker, atomically: true, encoding: .utf8)
        let controller = try makeController(path: "\(blocker)/tunnels.toml")
        _ = controller.handle(.character("a"))
        type("x", into: controller)
        _ = controller.handle(.tab)
        type("example.com/x", into: controller)
        _ = controller.handle(.enter)
        let status = try XCTUnwrap(controller.model.status)
        XCTAssertTrue(status.isError)
        XCTAssertTrue(status.text.hasPrefix("not saved: \(blocker)/tunnels.toml"), status.text)
    }

    func testNavigationFilterThemeAndQuit() throws {
        let url = try ServerURL(parsing: "http://127.0.0.1:9/")
        let controller = try makeController(
            path: nil, tunnels: ["alpha", "beta", "gamma"].map { TunnelConfig(name: $0, url: url) })
        _ = controller.handle(.down)
        _ = controller.handle(.character("j"))
        XCTAssertEqual(controller.model.selectedTunnel?.snapshot.name, "gamma")
        _ = controller.handle(.down)
        XCTAssertEqual(controller.model.selectedTunnel?.snapshot.name, "gamma", "the selection stops at the end")
        _ = controller.handle(.character("k"))
        XCTAssertEqual(controller.model.selectedTunnel?.snapshot.name, "beta")
        _ = controller.handle(.character("/"))
        type("alp", into: controller)
        _ = controller.handle(.enter)
        XCTAssertEqual(controller.model.visible.map(\.snapshot.name), ["alpha"])
        _ = controller.handle(.character("/"))
        _ = controller.handle(.escape)
        XCTAssertEqual(controller.model.visible.count, 3)
        _ = controller.handle(.tab)
        XCTAssertEqual(controller.model.pane, .connections)
        _ = controller.handle(.backTab)
        XCTAssertEqual(controller.model.pane, .tunnels)
        let before = controller.theme.name
        _ = controller.handle(.character("t"))
        XCTAssertNotEqual(controller.theme.name, before)
        _ = controller.handle(.character("?"))
        XCTAssertEqual(controller.model.mode, .help)
        XCTAssertTrue(controller.handle(.character("x")), "any key closes help")
        XCTAssertEqual(controller.model.mode, .normal)
        _ = controller.handle(.character("a"))
        _ = controller.handle(.enter)
        _ = controller.handle(.escape)
        XCTAssertFalse(controller.handle(.character("q")))
        XCTAssertFalse(controller.handle(.interrupt))
    }

    func testMouseSelectsSortsAndScrollsAndKeysSort() throws {
        let url = try ServerURL(parsing: "http://127.0.0.1:9/")
        let controller = try makeController(path: nil, tunnels: ["gamma", "alpha", "beta"].map { TunnelConfig(name: $0, url: url) })
        controller.screenSize = (120, 35)
        // Row 0 is the header line, row 1 the table's border, row 2 its column titles, rows 3... the tunnels.
        _ = controller.handle(.mouse(MouseEvent(x: 10, y: 4, button: .left)))
        XCTAssertEqual(controller.model.selectedTunnel?.snapshot.name, "alpha")
        _ = controller.handle(.mouse(MouseEvent(x: 3, y: 2, button: .left)))
        XCTAssertEqual(controller.model.visible.map(\.snapshot.name), ["alpha", "beta", "gamma"], "a click on NAME sorts by it")
        XCTAssertEqual(controller.model.selectedTunnel?.snapshot.name, "alpha", "the selection stays on its tunnel")
        _ = controller.handle(.mouse(MouseEvent(x: 3, y: 2, button: .left)))
        XCTAssertEqual(controller.model.visible.map(\.snapshot.name), ["gamma", "beta", "alpha"], "again: reversed")
        _ = controller.handle(.mouse(MouseEvent(x: 10, y: 4, button: .wheelUp)))
        XCTAssertEqual(controller.model.selectedTunnel?.snapshot.name, "gamma", "the wheel moves the selection up from alpha, now last")
        let layout = ScreenLayout.compute(width: 120, height: 35, tunnelCount: 3)
        _ = controller.handle(.mouse(MouseEvent(x: 5, y: try XCTUnwrap(layout.events).y + 2, button: .left)))
        XCTAssertEqual(controller.model.pane, .events, "a click focuses the pane under it")
        _ = controller.handle(.character("/"))
        type("fail", into: controller)
        _ = controller.handle(.enter)
        XCTAssertEqual(controller.model.eventFilter, "fail", "with the event log focused, / filters it")
        XCTAssertEqual(controller.model.filter, "")
        _ = controller.handle(.tab)
        XCTAssertEqual(controller.model.pane, .tunnels)
        _ = controller.handle(.character("s"))
        XCTAssertEqual(controller.model.sort.column, .local, "s: the column after NAME")
        XCTAssertFalse(controller.model.sort.reversed)
        _ = controller.handle(.character("s"))
        XCTAssertEqual(controller.model.sort.column, .remote)
        _ = controller.handle(.character("S"))
        XCTAssertTrue(controller.model.sort.reversed)
        _ = controller.handle(.character("r"))
        XCTAssertEqual(controller.model.graphRange, .tenMinutes)
        controller.stop()
    }

    func testNoColoursMeansMono() throws {
        let engine = TunnelEngine(group: InProcessServer.group, logger: InProcessServer.quietLogger, environment: [:])
        let themes = ThemeLibrary(userDirectory: "/nonexistent", bundledDirectory: RepositoryPaths.themes)
        let controller = TUIController(
            engine: engine, file: TunnelsFile(), configPath: nil, streams: [], themes: themes, theme: try themes.load("light"),
            colorsAvailable: false)
        XCTAssertEqual(controller.theme.name, "mono")
        _ = controller.handle(.character("t"))
        XCTAssertEqual(controller.theme.name, "mono")
    }
}
