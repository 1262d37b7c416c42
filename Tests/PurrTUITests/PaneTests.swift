import Foundation
import PurrClient
import PurrCore
import PurrTUI
import XCTest

/// The panes of the whole-path view, drawn from plain values: the joined connections, the graph, the
/// event log, failures, sorting, the REMOTE column, the servers pane, and the layout at every size.
final class PaneTests: XCTestCase {
    let url = try! ServerURL(parsing: "http://purr.example.com:8080/ssh")

    func health(rtt: Int, retransmits: Int = 0, lost: Int = 0) -> TCPHealth {
        TCPHealth(rttUs: rtt, rttvarUs: rtt / 4, retransmits: retransmits, lost: lost, unacked: 0)
    }

    func connection(_ id: String, up: Int, down: Int, rtt: Int) -> ConnectionSnapshot {
        ConnectionSnapshot(
            id: 1, peer: "127.0.0.1:50000", state: .relaying, bytesUp: up, bytesDown: down, started: Date(timeIntervalSinceNow: -5),
            clientID: id, tcp: health(rtt: rtt))
    }

    func stats(_ connections: [StatsSnapshot.Connection], failures: [String: Int] = [:]) -> StatsSnapshot {
        StatsSnapshot(
            server: .init(version: "0.1.0", uptimeSeconds: 10, listen: "127.0.0.1:8080", started: Date()),
            totals: .init(active: connections.count, total: 5, bytesIn: 0, bytesOut: 0, failures: failures),
            routes: [
                .init(
                    path: "/ssh", target: "127.0.0.1:22", active: 1, total: 4, bytesIn: 10, bytesOut: 20,
                    failures: ["target_unreachable": 2])
            ],
            connections: connections)
    }

    func serverConnection(_ id: String?, bytesIn: Int, bytesOut: Int, targetRTT: Int) -> StatsSnapshot.Connection {
        StatsSnapshot.Connection(
            id: 7, route: "/ssh", target: "127.0.0.1:22", peer: "127.0.0.1:40000", state: .relaying, bytesIn: bytesIn, bytesOut: bytesOut,
            started: Date(), reason: nil, clientID: id, tcp: .init(client: health(rtt: 200), target: health(rtt: targetRTT)))
    }

    func line(_ grid: CellGrid, containing text: String) -> Int? {
        (0..<grid.height).first { grid.row($0).contains(text) }
    }

    func testConnectionsJoinBothEndsAndMarkASlowHop() throws {
        var model = TUIModel()
        let joined = connection("abc/ssh/1", up: 3 << 20, down: 1 << 20, rtt: 150_000)
        let alone = ConnectionSnapshot(id: 2, peer: "127.0.0.1:50001", state: .relaying, bytesUp: 5, bytesDown: 6, started: Date())
        model.update(
            snapshots: [
                TunnelSnapshot(config: TunnelConfig(name: "ssh", url: url), state: .listening, active: 2, connections: [joined, alone])
            ],
            time: 0)
        model.update(
            servers: [("prod", .live, stats([serverConnection("abc/ssh/1", bytesIn: 2 << 20, bytesOut: 2 << 20, targetRTT: 420)]))],
            time: 0)
        XCTAssertEqual(model.joinedConnections.first?.inFlightUp, 1 << 20, "client sent 3 MiB, the server has read 2")
        XCTAssertEqual(model.joinedConnections.first?.inFlightDown, 1 << 20)
        let grid = ScreenRenderer.render(model, width: 120, height: 35)
        let y = try XCTUnwrap(line(grid, containing: "127.0.0.1:50000"))
        let row = grid.row(y)
        for part in ["3.0 MiB", "1.0 MiB", "2.0 MiB", "150 ms", "420 µs"] { XCTAssertTrue(row.contains(part), "\(part) missing: \(row)") }
        let rttX = try XCTUnwrap(row.range(of: "150 ms")).lowerBound.utf16Offset(in: row)
        XCTAssertEqual(grid[rttX, y].role, .warning, "a 150 ms hop is drawn as a warning")
        let lone = grid.row(try XCTUnwrap(line(grid, containing: "127.0.0.1:50001")))
        XCTAssertTrue(lone.contains("–"), "a connection the server does not know shows the client side alone: \(lone)")
        XCTAssertNotNil(line(grid, containing: "Connections: ssh · 1/2 joined"))
        var pooled = model.tunnels[0].snapshot
        pooled.pool = WarmPoolSnapshot(size: 4)
        pooled.pool?.idle = 3
        model.update(snapshots: [pooled], time: 0)
        XCTAssertNotNil(
            line(ScreenRenderer.render(model, width: 120, height: 35), containing: "· pool 3/4 ready"), "a warm pool's ready count")
        XCTAssertNil(line(ScreenRenderer.render(model, width: 120, height: 35), containing: "resumed"), "no TLS, no TLS count")
        pooled.tlsHandshakes = 5
        pooled.tlsResumed = 4
        model.update(snapshots: [pooled], time: 0)
        XCTAssertNotNil(
            line(ScreenRenderer.render(model, width: 120, height: 35), containing: "· pool 3/4 ready · TLS 4/5 resumed"),
            "TLS handshakes that resumed a session")
        XCTAssertNil(line(grid, containing: "UNACKED"), "at 120 columns the least needed column gives way")
        XCTAssertNotNil(line(ScreenRenderer.render(model, width: 160, height: 35), containing: "UNACKED"))
        let last = model.servers[0].snapshot
        model.update(servers: [("prod", .unreachable("connection refused by 127.0.0.1:9090"), last)], time: 1)
        XCTAssertNil(model.joinedConnections.first?.server, "a server that went away no longer vouches for its last snapshot")
    }

    func testGraphDrawsBothDirectionsInBrailleAndSwitchesRange() throws {
        XCTAssertEqual(BrailleGraph.render([0, 4, 8, 0], width: 2, rows: 2, peak: 8), [" ⡇", "⢸⡇"])
        XCTAssertEqual(BrailleGraph.resample([1, 5, 2, 9], seconds: 4, points: 2), [5, 9], "each point keeps its seconds' peak")
        XCTAssertEqual(BrailleGraph.resample([3], seconds: 4, points: 4), [0, 0, 0, 3], "a short history is right-aligned")
        var model = TUIModel()
        let config = TunnelConfig(name: "video", url: url)
        for second in 0...30 {
            model.update(
                snapshots: [TunnelSnapshot(config: config, state: .listening, bytesUp: second * 1000, bytesDown: second * 1_000_000)],
                time: Double(second))
        }
        let grid = ScreenRenderer.render(model, width: 120, height: 35)
        XCTAssertNotNil(line(grid, containing: "Throughput: video · 60 s"))
        XCTAssertTrue(
            grid.cells.contains { $0.scalar.value >= 0x2801 && $0.scalar.value <= 0x28FF && $0.role == .down }, "braille down graph")
        XCTAssertTrue(grid.cells.contains { $0.scalar.value >= 0x2801 && $0.scalar.value <= 0x28FF && $0.role == .up }, "braille up graph")
        XCTAssertNotNil(line(grid, containing: "↓ 977 KiB/s"), grid.text)
        model.graphRange = .tenMinutes
        XCTAssertNotNil(line(ScreenRenderer.render(model, width: 120, height: 35), containing: "· 10 min"))
    }

    func testEventLogShowsBothSidesFiltersAndScrolls() throws {
        var model = TUIModel()
        model.update(snapshots: [TunnelSnapshot(config: TunnelConfig(name: "db", url: url), state: .listening)], time: 0)
        let now = Date()
        for index in 0..<30 {
            model.log.append(.init(time: now, origin: .client(tunnel: "db"), kind: .opened, peer: "127.0.0.1:\(1000 + index)"))
        }
        model.log.append(
            .init(
                time: now, origin: .server(name: "prod", route: "/db"), kind: .failed, peer: "10.0.0.1:5",
                reason: "502 connection refused to 127.0.0.1:5432"))
        let grid = ScreenRenderer.render(model, width: 120, height: 35)
        let failed = try XCTUnwrap(line(grid, containing: "502 connection refused"), grid.text)
        XCTAssertTrue(grid.row(failed).contains("server failed prod /db"), grid.row(failed))
        XCTAssertNotNil(line(grid, containing: "Events (31)"))
        XCTAssertNil(line(grid, containing: "127.0.0.1:1000 "), "only the newest fit")
        model.scrollEvents(by: 100, pageSize: 5)
        let scrolled = ScreenRenderer.render(model, width: 120, height: 35)
        XCTAssertNotNil(line(scrolled, containing: "127.0.0.1:1000 "), "scrolled to the oldest")
        XCTAssertNil(line(scrolled, containing: "502 connection refused"))
        model.eventScroll = 0
        model.eventFilter = "refused"
        let filtered = ScreenRenderer.render(model, width: 120, height: 35)
        XCTAssertNotNil(line(filtered, containing: "Events (1)  filter: refused"))
    }

    func testAFailingTunnelShowsInItsRowAndTheFooter() throws {
        var model = TUIModel()
        let config = TunnelConfig(name: "legacy-db", url: url)
        model.update(snapshots: [TunnelSnapshot(config: config, state: .listening)], time: 0)
        model.update(
            snapshots: [TunnelSnapshot(config: config, state: .listening, total: 2, failed: 2, lastError: "server answered 404 Not Found")],
            time: 1)
        XCTAssertTrue(model.tunnels[0].isFailing)
        let grid = ScreenRenderer.render(model, width: 120, height: 35)
        let row = try XCTUnwrap(line(grid, containing: "legacy-db "))
        XCTAssertTrue(grid.row(row).contains("✖ failing"), grid.row(row))
        XCTAssertTrue(grid.row(34).contains("✖ legacy-db: server answered 404 Not Found"), grid.row(34))
        XCTAssertTrue(grid.row(34).contains("q quit"), "the keys stay: \(grid.row(34))")
        // One connection that works clears it.
        model.update(
            snapshots: [TunnelSnapshot(config: config, state: .listening, total: 3, failed: 2, lastError: "server answered 404 Not Found")],
            time: 2)
        XCTAssertFalse(model.tunnels[0].isFailing)
    }

    func testSortingCyclesReversesAndMarksTheHeader() throws {
        var model = TUIModel()
        let snapshots = [("b", 5), ("a", 50), ("c", 1)].map { name, up in
            TunnelSnapshot(config: TunnelConfig(name: name, url: url), state: .listening, bytesUp: up)
        }
        model.update(snapshots: snapshots, time: 0)
        XCTAssertEqual(model.visible.map(\.snapshot.name), ["b", "a", "c"], "config order at first")
        model.sort.cycle()
        XCTAssertEqual(model.visible.map(\.snapshot.name), ["a", "b", "c"])
        model.sort.reversed.toggle()
        XCTAssertEqual(model.visible.map(\.snapshot.name), ["c", "b", "a"])
        model.sort.select("↑ BYTES")
        XCTAssertEqual(model.visible.map(\.snapshot.name), ["a", "b", "c"], "numbers: largest first")
        let header = ScreenRenderer.render(model, width: 120, height: 35).row(2)
        XCTAssertTrue(header.contains("▼↑ BYTES") || header.contains("↑ BYTES▼"), header)
        model.sort.select("↑ BYTES")
        XCTAssertEqual(model.visible.map(\.snapshot.name), ["c", "b", "a"], "a second click reverses")
        model.filter = "127.0.0.1"
        XCTAssertEqual(model.visible.count, 0, "no bound address yet")
        model.filter = "purr.example"
        XCTAssertEqual(model.visible.count, 3, "the filter matches the REMOTE column too")
    }

    func testRemoteKeepsPortAndPathAndCutsTheHostFromTheLeft() throws {
        let long = try ServerURL(parsing: "https://tunnels.eu-west-1.example.com:8443/ssh")
        XCTAssertEqual(RemoteText.shorten(long, width: 60), "https tunnels.eu-west-1.example.com:8443/ssh")
        XCTAssertEqual(RemoteText.shorten(long, width: 38), "tunnels.eu-west-1.example.com:8443/ssh")
        XCTAssertEqual(RemoteText.shorten(long, width: 20), "…xample.com:8443/ssh")
        XCTAssertEqual(RemoteText.shorten(long, width: 10), "…:8443/ssh")
        XCTAssertEqual(RemoteText.shorten(try ServerURL(parsing: "http://h:1/a-very-long-route-name"), width: 10), "…oute-name")
        for width in 1...50 { XCTAssertLessThanOrEqual(RemoteText.shorten(long, width: width).unicodeScalars.count, width) }
    }

    func testServersPaneShowsFailuresAndItsConnectionsWhenFocused() throws {
        var model = TUIModel()
        model.update(
            servers: [
                (
                    "prod", .live,
                    stats([serverConnection("abc/ssh/1", bytesIn: 10, bytesOut: 20, targetRTT: 900)], failures: ["no_route": 3])
                )
            ],
            time: 0)
        let unfocused = ScreenRenderer.render(model, width: 120, height: 35)
        XCTAssertNotNil(line(unfocused, containing: "✖ no route 3"), unfocused.text)
        XCTAssertNotNil(line(unfocused, containing: "unreach 2"), "per route, by reason: \(unfocused.text)")
        XCTAssertNil(line(unfocused, containing: "abc/ssh/1"))
        model.pane = .servers
        let focused = ScreenRenderer.render(model, width: 120, height: 35)
        XCTAssertNotNil(line(focused, containing: "abc/ssh/1"), "the connection list with the client id: \(focused.text)")
        let wide = ScreenRenderer.render(model, width: 240, height: 35)
        let row = wide.row(try XCTUnwrap(line(wide, containing: "abc/ssh/1")))
        XCTAssertTrue(row.contains("127.0.0.1:22"), "on a wide screen, each connection's own target: \(row)")
    }

    func testEveryPaneFitsEverySize() throws {
        var model = TUIModel()
        model.update(
            snapshots: (0..<5).map {
                TunnelSnapshot(
                    config: TunnelConfig(name: "t\($0)", url: url), state: .listening,
                    connections: [connection("x/t/\($0)", up: 1, down: 2, rtt: 10)])
            },
            time: 0)
        model.log.append(.init(time: Date(), origin: .client(tunnel: "t0"), kind: .closed, peer: "127.0.0.1:1", reason: "closed"))
        for (width, height) in [(60, 14), (64, 20), (80, 24), (100, 30), (120, 35), (200, 60)] {
            let layout = ScreenLayout.compute(width: width, height: height, tunnelCount: 5)
            let rects = [layout.tunnels, layout.connections, layout.servers] + [layout.graph, layout.events].compactMap { $0 }
            for (i, a) in rects.enumerated() {
                XCTAssertTrue(a.x >= 0 && a.y >= 1 && a.x + a.width <= width && a.y + a.height <= height - 1, "\(a) at \(width)x\(height)")
                for b in rects[(i + 1)...] {
                    let overlap = a.x < b.x + b.width && b.x < a.x + a.width && a.y < b.y + b.height && b.y < a.y + a.height
                    XCTAssertFalse(overlap, "\(a) and \(b) overlap at \(width)x\(height)")
                }
            }
            XCTAssertEqual(layout.events != nil, height >= 20, "the event log from 20 lines up (\(width)x\(height))")
            XCTAssertEqual(layout.graph != nil, height >= 30, "the graph from 30 lines up (\(width)x\(height))")
            let grid = ScreenRenderer.render(model, width: width, height: height)
            for y in 0..<height { XCTAssertEqual(grid.row(y).unicodeScalars.count, width) }
            XCTAssertNotNil(line(grid, containing: "Connections: t0"), "\(width)x\(height)")
        }
        let big = ScreenLayout.compute(width: 120, height: 35, tunnelCount: 5)
        XCTAssertNotNil(big.graph)
        XCTAssertEqual(big.pane(at: 5, big.events!.y + 1), .events)
        XCTAssertEqual(big.pane(at: 100, big.servers.y + 1), .servers)
    }
}
