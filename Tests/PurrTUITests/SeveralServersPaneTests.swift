import Foundation
import PurrClient
import PurrCore
import XCTest

@testable import PurrTUI

/// A tunnel with several servers, drawn from hand-made snapshots: the row's `2/3 up` with its down and
/// draining marks, each connection's server, the detail line of each server, and the Servers pane's
/// draining and down marks.
final class SeveralServersPaneTests: XCTestCase {
    let url = try! ServerURL(parsing: "http://a.example:8080/ssh")

    func line(_ grid: CellGrid, containing text: String) -> Int? {
        (0..<grid.height).first { grid.row($0).contains(text) }
    }

    func servers(_ health: [ServerHealthSnapshot.Health], hosts: [String]? = nil) -> [ServerHealthSnapshot] {
        health.enumerated().map { index, health in
            let host = hosts?[index] ?? ["a.example", "b.example", "c.example"][index]
            return ServerHealthSnapshot(index: index, url: "http://\(host):8080/ssh", health: health)
        }
    }

    func tunnel(_ name: String, servers: [ServerHealthSnapshot], connections: [ConnectionSnapshot] = []) -> TunnelSnapshot {
        var snapshot = TunnelSnapshot(config: TunnelConfig(name: name, url: url), state: .listening, active: connections.count)
        snapshot.connections = connections
        snapshot.servers = servers
        return snapshot
    }

    func connection(_ id: UInt64, server: Int?, peer: String, clientID: String? = nil) -> ConnectionSnapshot {
        var connection = ConnectionSnapshot(
            id: id, peer: peer, state: .relaying, bytesUp: 100, bytesDown: 200, started: Date(timeIntervalSinceNow: -3), clientID: clientID)
        connection.server = server
        return connection
    }

    func testTheRowShowsHowManyServersAreUpAndMarksDownAndDraining() throws {
        var model = TUIModel()
        // The second row: the first is selected (drawn in the selection's style).
        model.update(
            snapshots: [tunnel("single", servers: []), tunnel("spread", servers: servers([.up, .down, .draining]))], time: 0)
        let grid = ScreenRenderer.render(model, width: 160, height: 35)
        let header = grid.row(try XCTUnwrap(line(grid, containing: "NAME")))
        XCTAssertTrue(header.contains("SERVERS"), "a tunnel has several servers: the column is there: \(header)")
        let y = try XCTUnwrap(line(grid, containing: "spread"))
        let row = grid.row(y)
        XCTAssertTrue(row.contains("1/3 up ✖1 ◌1"), "one up, one down, one draining: \(row)")
        XCTAssertTrue(row.contains("a.example:8080/ssh +2"), "REMOTE names the first and how many more: \(row)")
        let x = try XCTUnwrap(row.range(of: "1/3 up")).lowerBound.utf16Offset(in: row)
        XCTAssertEqual(grid[x, y].role, .warning, "some servers not up: a warning")
        let single = grid.row(try XCTUnwrap(line(grid, containing: "single")))
        XCTAssertFalse(single.contains(" up"), "a one-server tunnel has no server health: \(single)")

        model.update(snapshots: [tunnel("single", servers: []), tunnel("spread", servers: servers([.up, .up]))], time: 1)
        let allUp = ScreenRenderer.render(model, width: 160, height: 35)
        let upRow = allUp.row(try XCTUnwrap(line(allUp, containing: "spread")))
        XCTAssertTrue(upRow.contains("2/2 up "), upRow)
        XCTAssertFalse(upRow.contains("✖") || upRow.contains("◌"), "no marks when every server is up: \(upRow)")
        model.update(snapshots: [tunnel("single", servers: []), tunnel("spread", servers: servers([.down, .draining]))], time: 2)
        let none = ScreenRenderer.render(model, width: 160, height: 35)
        let noneY = try XCTUnwrap(line(none, containing: "0/2 up"))
        let noneX = try XCTUnwrap(none.row(noneY).range(of: "0/2 up")).lowerBound.utf16Offset(in: none.row(noneY))
        XCTAssertEqual(none[noneX, noneY].role, .error, "no server up: an error")

        // Closed: no health yet, the count from its config.
        var config = TunnelConfig(name: "closed", url: url)
        config.moreServers = [TunnelServer(url: try ServerURL(parsing: "http://b.example/ssh"))]
        model.update(snapshots: [tunnel("single", servers: []), TunnelSnapshot(config: config, state: .closed)], time: 3)
        let closed = ScreenRenderer.render(model, width: 160, height: 35)
        let closedRow = closed.row(try XCTUnwrap(line(closed, containing: "closed ")))
        XCTAssertTrue(closedRow.contains("2 servers") && closedRow.contains("/ssh +1"), closedRow)

        model.update(snapshots: [tunnel("single", servers: [])], time: 3)
        let plain = ScreenRenderer.render(model, width: 160, height: 35)
        XCTAssertFalse(plain.row(try XCTUnwrap(line(plain, containing: "NAME"))).contains("SERVERS"), "no list, no column")
    }

    func testAClickOnSERVERSPutsTheTunnelsWithServersOutFirst() throws {
        var model = TUIModel()
        model.update(
            snapshots: [
                tunnel("fine", servers: servers([.up, .up])), tunnel("single", servers: []),
                tunnel("worst", servers: servers([.down, .draining])), tunnel("half", servers: servers([.up, .down])),
            ], time: 0)
        model.sort.select("SERVERS")
        XCTAssertEqual(model.visible.map(\.snapshot.name), ["worst", "half", "fine", "single"], "most servers out first")
        let header = ScreenRenderer.render(model, width: 160, height: 35).row(2)
        XCTAssertTrue(header.contains("SERVERS▼"), header)
        var cycled = TunnelSort(column: .downRate)
        cycled.cycle()
        XCTAssertNil(cycled.column, "s skips SERVERS: after the last column, the config's order")
    }

    func testEverySizeStillFitsWithServerLinesAndColumns() throws {
        var model = TUIModel()
        var list = servers([.up, .down, .draining])
        list[1].lastError = String(repeating: "a long reason ", count: 20)
        model.update(
            snapshots: [tunnel("three", servers: list, connections: [connection(1, server: 2, peer: "[2001:db8::1]:50001")])], time: 0)
        model.pane = .connections
        for (width, height) in [(60, 14), (64, 20), (80, 24), (120, 35), (200, 60)] {
            let grid = ScreenRenderer.render(model, width: width, height: height)
            for y in 0..<height { XCTAssertEqual(grid.row(y).unicodeScalars.count, width, "\(width)x\(height) line \(y)") }
            XCTAssertNotNil(line(grid, containing: "Connections: three"), "\(width)x\(height)")
            XCTAssertNotNil(line(grid, containing: "#1 "), "at least the first server's line: \(width)x\(height)\n\(grid.text)")
        }
    }

    func testTheFilterFindsATunnelByAnyOfItsServers() {
        var model = TUIModel()
        model.update(snapshots: [tunnel("spread", servers: servers([.up, .up])), tunnel("single", servers: [])], time: 0)
        model.filter = "b.example"
        XCTAssertEqual(model.visible.map(\.snapshot.name), ["spread"])
    }

    func testEachConnectionNamesItsServerJoinedWithThatServersSide() throws {
        var model = TUIModel()
        let list = servers([.up, .draining], hosts: ["127.0.0.1", "127.0.0.1"])
        let onFirst = connection(1, server: 0, peer: "127.0.0.1:50001")
        let onSecond = connection(2, server: 1, peer: "127.0.0.1:50002", clientID: "c/ssh/2")
        let waiting = connection(3, server: nil, peer: "127.0.0.1:50003")
        model.update(snapshots: [tunnel("pair", servers: list, connections: [onFirst, onSecond, waiting])], time: 0)
        let stats = StatsSnapshot(
            server: .init(version: "0.1.0", uptimeSeconds: 10, listen: "127.0.0.1:8080", started: Date(), draining: true),
            totals: .init(active: 1, total: 1, bytesIn: 0, bytesOut: 0, failures: [:]), routes: [],
            connections: [
                StatsSnapshot.Connection(
                    id: 9, route: "/ssh", target: "127.0.0.1:22", peer: "127.0.0.1:40000", state: .relaying, bytesIn: 4096, bytesOut: 8192,
                    started: Date(), reason: nil, clientID: "c/ssh/2", tcp: nil)
            ])
        model.update(servers: [("b-admin", .live, stats)], time: 0)
        XCTAssertEqual(model.joinedConnections[1].serverName, "b-admin", "the watched server that knows it")
        XCTAssertEqual(model.serverLinks, ["pair": [1: "b-admin"]], "server #2 of pair is the watched b-admin")
        XCTAssertEqual(model.links(ofWatched: "b-admin"), ["pair #2"])
        let linked = ScreenRenderer.render(model, width: 200, height: 40)
        let detail = linked.row(try XCTUnwrap(line(linked, containing: "#2 ")))
        XCTAssertTrue(detail.contains("#2  127.0.0.1:8080/ssh  ◌ draining") && detail.contains("admin: b-admin"), detail)
        XCTAssertTrue(linked.row(try XCTUnwrap(line(linked, containing: "b-admin  ◌"))).contains("serves pair #2"), linked.text)
        let grid = ScreenRenderer.render(model, width: 160, height: 40)
        XCTAssertNotNil(line(grid, containing: "SERVER "), grid.text)
        // Both servers on one host and port (two routes): the list's numbers tell them apart.
        let first = grid.row(try XCTUnwrap(line(grid, containing: "127.0.0.1:50001")))
        XCTAssertTrue(first.contains(" #1 "), "the first server: \(first)")
        let second = grid.row(try XCTUnwrap(line(grid, containing: "127.0.0.1:50002")))
        XCTAssertTrue(second.contains(" #2 ") && second.contains("8.0 KiB"), "its server, joined with that side (SRV OUT): \(second)")
        let third = grid.row(try XCTUnwrap(line(grid, containing: "127.0.0.1:50003")))
        XCTAssertTrue(third.contains("–"), "no server answered yet: \(third)")

        XCTAssertEqual(ServerSummary.labels(list), [0: "#1", 1: "#2"], "same host and port: the list's numbers")
        let ports = [8081, 8082].enumerated().map { ServerHealthSnapshot(index: $0, url: "http://127.0.0.1:\($1)/ssh", health: .up) }
        XCTAssertEqual(ServerSummary.labels(ports), [0: "127.0.0.1:8081", 1: "127.0.0.1:8082"], "same host: host:port")
        XCTAssertEqual(ServerSummary.labels(servers([.up, .up])), [0: "a.example", 1: "b.example"], "hosts differ: the host")
        XCTAssertEqual(
            ServerSummary.labels([ServerHealthSnapshot(index: 0, url: "https://[::1]/x", health: .up)]), [0: "[::1]"], "IPv6 in brackets")
    }

    func testTheDetailLinesListEachServersHealthCountsRetryAndLastError() throws {
        var model = TUIModel()
        let now = Date()
        model.now = now
        var list = servers([.up, .down, .draining])
        list[0].active = 3
        list[0].total = 41
        list[0].connectSeconds = 0.0123
        list[1].failures = 5
        list[1].consecutiveFailures = 3
        list[1].total = 7
        list[1].lastError = "connection refused by 127.0.0.1:9"
        list[1].retryAt = now.addingTimeInterval(4.2)
        list[2].lastError = "503 draining"
        model.update(snapshots: [tunnel("three", servers: list, connections: [connection(1, server: 0, peer: "127.0.0.1:50001")])], time: 0)
        let grid = ScreenRenderer.render(model, width: 160, height: 40)
        let up = grid.row(try XCTUnwrap(line(grid, containing: "#1 ")))
        for part in ["a.example", "● up", "act 3 · tot 41 · fail 0", "connect 12.3 ms"] {
            XCTAssertTrue(up.contains(part), "\(part): \(up)")
        }
        let downY = try XCTUnwrap(line(grid, containing: "#2 "))
        let down = grid.row(downY)
        for part in [
            "b.example", "✖ down", "act 0 · tot 7 · fail 5", "(3 in a row)", "retry in 5s", "last: connection refused by 127.0.0.1:9",
        ] {
            XCTAssertTrue(down.contains(part), "\(part): \(down)")
        }
        let markX = try XCTUnwrap(down.range(of: "✖ down")).lowerBound.utf16Offset(in: down)
        XCTAssertEqual(grid[markX, downY].role, .error)
        let draining = grid.row(try XCTUnwrap(line(grid, containing: "#3 ")))
        XCTAssertTrue(draining.contains("◌ draining") && draining.contains("last: 503 draining"), draining)
        XCTAssertLessThan(try XCTUnwrap(line(grid, containing: "#3 ")), try XCTUnwrap(line(grid, containing: "127.0.0.1:50001")))

        // Too short a pane: the lines that fit, the last one saying how many more there are.
        let short = ConnectionsView.serverDetailLines(model.tunnels[0].snapshot, model: model, width: 100, room: 2)
        XCTAssertEqual(short.count, 2)
        XCTAssertEqual(short[1].map(\.0).joined(), "… 2 more servers (a taller terminal shows them)")
        XCTAssertTrue(ConnectionsView.serverDetailLines(model.tunnels[0].snapshot, model: model, width: 100, room: 0).isEmpty)
    }

    func testAClickOnAConnectionBelowTheDetailLinesSelectsIt() throws {
        var model = TUIModel()
        let list = servers([.up, .down])
        model.update(
            snapshots: [
                tunnel(
                    "pair", servers: list,
                    connections: [connection(1, server: 0, peer: "127.0.0.1:50001"), connection(2, server: 1, peer: "127.0.0.1:50002")])
            ], time: 0)
        let layout = ScreenLayout.compute(width: 120, height: 35, tunnelCount: 1)
        let grid = ScreenRenderer.render(model, width: 120, height: 35)
        // The second connection's row: on server #2 (at 120 columns the peer's port is cut).
        let y = try XCTUnwrap((0..<grid.height).last { grid.row($0).contains("relaying") && grid.row($0).contains("b.example") }, grid.text)
        XCTAssertEqual(ConnectionsView.index(atY: y, rect: layout.connections, model: model), 1, grid.text)
        XCTAssertNil(ConnectionsView.index(atY: try XCTUnwrap(line(grid, containing: "#2 ")), rect: layout.connections, model: model))
    }

    func testTheServersPaneAndHeaderMarkADrainingAndADownServer() throws {
        var model = TUIModel()
        func stats(draining: Bool) -> StatsSnapshot {
            StatsSnapshot(
                server: .init(version: "0.1.0", uptimeSeconds: 10, listen: "127.0.0.1:8080", started: Date(), draining: draining),
                totals: .init(active: 0, total: 0, bytesIn: 0, bytesOut: 0, failures: [:]), routes: [], connections: [])
        }
        model.update(
            servers: [
                ("alpha", .live, stats(draining: false)), ("beta", .live, stats(draining: true)),
                ("gamma", .unreachable("connection refused by 127.0.0.1:9"), stats(draining: false)),
            ], time: 0)
        let grid = ScreenRenderer.render(model, width: 160, height: 40)
        XCTAssertTrue(grid.row(0).contains("alpha: live  beta: draining  gamma: down"), grid.row(0))
        XCTAssertTrue(grid.row(try XCTUnwrap(line(grid, containing: "alpha  "))).contains("● live"), grid.text)
        let betaY = try XCTUnwrap(line(grid, containing: "beta  "))
        let beta = grid.row(betaY)
        XCTAssertTrue(beta.contains("◌ draining (503 to new)"), beta)
        let betaX = try XCTUnwrap(beta.range(of: "◌ draining")).lowerBound.utf16Offset(in: beta)
        XCTAssertEqual(grid[betaX, betaY].role, .warning)
        let gammaY = try XCTUnwrap(line(grid, containing: "gamma  "))
        let gamma = grid.row(gammaY)
        XCTAssertTrue(gamma.contains("✖ down, reconnecting (connection refused by 127.0.0.1:9)"), gamma)
        let gammaX = try XCTUnwrap(gamma.range(of: "✖ down")).lowerBound.utf16Offset(in: gamma)
        XCTAssertEqual(grid[gammaX, gammaY].role, .error)
    }
}

/// The form's URL field takes several URLs (space or comma between them) and the Servers field the choice.
final class SeveralServersFormTests: XCTestCase {
    func testSeveralURLsAndTheServersChoiceRoundTrip() throws {
        var form = TunnelForm(editing: nil)
        XCTAssertEqual(form.values[6], "failover", "a new tunnel: failover")
        form.values = [
            "pair", "http://a.example:8080/ssh, http://b.example:8080/ssh  http://c.example/ssh", "127.0.0.1:0", "fixed", "", "", "spread",
        ]
        let config = try form.build(base: nil)
        XCTAssertEqual(
            config.serverURLs.map(\.description),
            ["http://a.example:8080/ssh", "http://b.example:8080/ssh", "http://c.example/ssh"].map {
                try! ServerURL(parsing: $0).description
            })
        XCTAssertEqual(config.serverChoice, .spread)
        let edit = TunnelForm(editing: config)
        XCTAssertEqual(edit.values[1].split(separator: " ").count, 3, "edit shows every URL: \(edit.values[1])")
        XCTAssertEqual(edit.values[6], "spread")
        XCTAssertEqual(try edit.build(base: config), config, "saved unchanged")

        // A server's own token (from the file) stays while its URL stays in the list; a dropped one goes.
        var withToken = config
        withToken.moreServers[0].token = "b-token"
        var kept = TunnelForm(editing: withToken)
        kept.values[1] = "http://a.example:8080/ssh http://b.example:8080/ssh"
        let trimmed = try kept.build(base: withToken)
        XCTAssertEqual(trimmed.moreServers.map(\.token), ["b-token"])
        kept.values[1] = "http://a.example:8080/ssh"
        XCTAssertEqual(try kept.build(base: withToken).moreServers, [], "one URL: one server")

        form.values[6] = "random"
        XCTAssertThrowsError(try form.build(base: nil)) { error in
            XCTAssertEqual((error as? ConfigError)?.message, "Servers: 'random' is not failover or spread")
        }
        form.values[6] = ""
        XCTAssertEqual(try form.build(base: nil).serverChoice, .failover, "empty: the default")
        form.values[1] = "http://a.example/ssh nonsense"
        XCTAssertThrowsError(try form.build(base: nil)) { error in
            XCTAssertTrue((error as? ConfigError)?.message.hasPrefix("URL 2: ") == true, "the bad one is named: \(error)")
        }
        form.values[1] = " , "
        XCTAssertThrowsError(try form.build(base: nil)) { error in
            XCTAssertEqual((error as? ConfigError)?.message, "URL: must not be empty")
        }
        form.values[1] = Array(repeating: "http://a.example/ssh", count: TunnelConfig.maxServers + 1).joined(separator: " ")
        XCTAssertThrowsError(try form.build(base: nil)) { error in
            XCTAssertEqual((error as? ConfigError)?.message, "URL: at most \(TunnelConfig.maxServers) servers per tunnel")
        }
        form.values[1] = "http://a.example/ssh http://b.example/ssh"
        form.values[3] = "reverse"
        form.values[5] = "127.0.0.1:22"
        XCTAssertThrowsError(try form.build(base: nil), "a reverse tunnel takes one server")

        // The form on screen: the Servers field and the hint for the list.
        var model = TUIModel()
        model.mode = .form(TunnelForm(editing: config))
        let grid = ScreenRenderer.render(model, width: 120, height: 35)
        XCTAssertTrue(grid.text.contains("Servers  spread"), grid.text)
        XCTAssertTrue(grid.text.contains("URL: one or more (space or comma between)"), grid.text)
        let small = ScreenRenderer.render(model, width: 60, height: 14)
        XCTAssertTrue(small.text.contains("Tab/↑↓ field"), "the keys line fits the smallest screen: \(small.text)")
    }
}
