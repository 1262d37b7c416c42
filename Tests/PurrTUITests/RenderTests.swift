import Foundation
import PurrClient
import PurrCore
import PurrTUI
import XCTest

/// The screen as a grid of cells: layout, columns, truncation, selection, scrolling, overlays.
final class RenderTests: XCTestCase {
    func tunnel(_ name: String, state: TunnelState = .listening, up: Int = 0, down: Int = 0, error: String? = nil) throws -> TunnelSnapshot
    {
        TunnelSnapshot(
            config: TunnelConfig(name: name, url: try ServerURL(parsing: "http://purr.example.com:8080/\(name)")),
            state: state, boundAddresses: ["127.0.0.1:2222"], active: 1, total: 7, failed: error == nil ? 0 : 1,
            bytesUp: up, bytesDown: down, lastError: error,
            connections: [
                ConnectionSnapshot(
                    id: 1, peer: "127.0.0.1:50000", state: .relaying, bytesUp: up, bytesDown: down, started: Date(timeIntervalSinceNow: -65)
                )
            ])
    }

    func model(_ tunnels: [TunnelSnapshot]) -> TUIModel {
        var model = TUIModel()
        model.update(snapshots: tunnels, time: 0)
        return model
    }

    func line(_ grid: CellGrid, containing text: String) -> String? {
        (0..<grid.height).map { grid.row($0) }.first { $0.contains(text) }
    }

    func testFullScreenShowsEveryPart() throws {
        var model = model([
            try tunnel("ssh", up: 12_900_000, down: 2048),
            try tunnel("db", state: .error("cannot listen on 127.0.0.1:5432: Address already in use"), error: "boom"),
            try tunnel("vnc", state: .closed),
        ])
        model.update(servers: [("prod", .live, nil), ("edge", .unauthorized, nil)], time: 0)
        let grid = ScreenRenderer.render(model, width: 120, height: 30)
        XCTAssertTrue(grid.row(0).hasPrefix(" Purr  tunnels 3 · open 1 · active 3"), grid.row(0))
        XCTAssertTrue(grid.row(0).contains("prod: live") && grid.row(0).contains("edge: unauthorized"))
        let ssh = try XCTUnwrap(line(grid, containing: "ssh "))
        for part in ["127.0.0.1:2222", ":8080/ssh", "● listening", "1/7", "12.3 MiB", "2.0 KiB", "0 B/s"] {
            XCTAssertTrue(ssh.contains(part), "\(part) missing from: \(ssh)")
        }
        XCTAssertTrue(try XCTUnwrap(line(grid, containing: "db ")).contains("✖ error"))
        XCTAssertTrue(try XCTUnwrap(line(grid, containing: "vnc ")).contains("○ closed"))
        XCTAssertNotNil(line(grid, containing: "Connections: ssh"))
        XCTAssertNotNil(line(grid, containing: "127.0.0.1:50000"))
        XCTAssertNotNil(line(grid, containing: "1m05s"), "connection age")
        XCTAssertNotNil(line(grid, containing: "Servers (2)"))
        XCTAssertTrue(grid.row(29).contains("q quit"))
        // The selected row is highlighted across the table's width.
        let sshY = try XCTUnwrap((0..<30).first { grid.row($0).contains("ssh ") && grid.row($0).contains("listening") })
        XCTAssertEqual(grid[1, sshY].role, .selected)
        XCTAssertEqual(grid[100, sshY].role, .selected)
        let stateX = try XCTUnwrap(grid.row(sshY).unicodeScalars.firstIndex(of: "●"))
        XCTAssertEqual(
            grid[grid.row(sshY).unicodeScalars.distance(from: grid.row(sshY).unicodeScalars.startIndex, to: stateX), sshY].role, .selected)
    }

    func testColumnsGiveWayOnNarrowScreensAndNamesTruncate() throws {
        let model = model([try tunnel("a-very-long-tunnel-name-for-testing", up: 5000)])
        let wide = ScreenRenderer.render(model, width: 160, height: 30)
        XCTAssertNotNil(line(wide, containing: "a-very-long-tunnel-name-for-testing"))
        XCTAssertNotNil(
            line(wide, containing: "127.0.0.1:2222   …-long-tunnel-name-for-testing ●"), "the route keeps its end: \(wide.text)")
        XCTAssertNotNil(line(wide, containing: "ACTIVITY"))
        let narrow = ScreenRenderer.render(model, width: 64, height: 20)
        let header = try XCTUnwrap(line(narrow, containing: "NAME"))
        XCTAssertTrue(header.contains("STATE") && header.contains("CONN"), header)
        XCTAssertFalse(header.contains("ACTIVITY"), "the sparkline goes first")
        XCTAssertFalse(header.contains("REMOTE"))
        XCTAssertNotNil(line(narrow, containing: "…"), "a name too long for its column ends with an ellipsis")
        for y in 0..<narrow.height { XCTAssertEqual(narrow.row(y).unicodeScalars.count, 64) }
    }

    func testTooSmallGetsACentredMessage() {
        let grid = ScreenRenderer.render(TUIModel(), width: 40, height: 10)
        let row = grid.row(4)
        XCTAssertTrue(row.contains("Terminal too small"))
        XCTAssertTrue(grid.row(5).contains("need 60×14, have 40×10"))
        XCTAssertEqual(row.prefix(while: { $0 == " " }).count, (40 - 18) / 2)
    }

    func testScrollingKeepsTheSelectionVisible() throws {
        var model = model(try (0..<50).map { try tunnel(String(format: "t%02d", $0)) })
        let rows = ScreenRenderer.tableRows(height: 24, tunnelCount: 50)
        model.move(by: 30)
        model.scrollToSelection(rows: rows)
        let grid = ScreenRenderer.render(model, width: 100, height: 24)
        XCTAssertNotNil(line(grid, containing: "t30 "))
        XCTAssertNil(line(grid, containing: "t00 "))
        XCTAssertNotNil(line(grid, containing: "/50"), "a position indicator")
    }

    func testOverlaysAndFilter() throws {
        var model = model([try tunnel("alpha"), try tunnel("beta")])
        model.mode = .help
        let help = ScreenRenderer.render(model, width: 100, height: 30)
        for binding in Keymap.bindings { XCTAssertNotNil(line(help, containing: binding.action), binding.action) }
        model.mode = .form(TunnelForm(editing: nil))
        XCTAssertNotNil(line(ScreenRenderer.render(model, width: 100, height: 30), containing: "Add tunnel"))
        model.mode = .confirmDelete("beta")
        XCTAssertNotNil(line(ScreenRenderer.render(model, width: 100, height: 30), containing: "Delete tunnel 'beta'?"))
        model.mode = .normal
        model.filter = "bet"
        let filtered = ScreenRenderer.render(model, width: 100, height: 30)
        XCTAssertNotNil(line(filtered, containing: "Tunnels (1)  filter: bet"))
        XCTAssertNil(line(filtered, containing: "alpha"))
    }

    func testDetailShowsTheLastErrorInWords() throws {
        let model = model([try tunnel("db", error: "server answered 404 Not Found: no route for /db")])
        let wide = ScreenRenderer.render(model, width: 140, height: 30)
        XCTAssertNotNil(line(wide, containing: "last error: server answered 404 Not Found: no route for /db"))
        let narrow = ScreenRenderer.render(model, width: 60, height: 30)
        XCTAssertNotNil(line(narrow, containing: "last error: server answered 404 Not Found: no route for…"), narrow.text)
    }
}
