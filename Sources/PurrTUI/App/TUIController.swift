import Foundation
import PurrClient
import PurrCore

/// What keys do: moves the selection, opens and closes tunnels, edits the config and saves it.
/// Separate from the terminal so it can be driven by tests.
public final class TUIController: @unchecked Sendable {
    public private(set) var model = TUIModel()
    public let engine: TunnelEngine
    public let streams: [AdminStream]
    private var file: TunnelsFile
    /// Where changes are saved; nil in the demo (nothing to save to).
    private let configPath: String?
    private let themes: ThemeLibrary
    public private(set) var theme: Theme
    private let colorsAvailable: Bool
    private let clock = ContinuousClock()
    private let started = ContinuousClock.now
    /// Set when the terminal's size is known, for paging and scrolling.
    public var tableRows = 10
    /// The terminal's size, to map mouse positions to panes.
    public var screenSize = (width: 120, height: 35)
    private let inbox = EventInbox()

    public init(
        engine: TunnelEngine, file: TunnelsFile, configPath: String?, streams: [AdminStream], themes: ThemeLibrary, theme: Theme,
        colorsAvailable: Bool
    ) {
        self.engine = engine
        self.file = file
        self.configPath = configPath
        self.streams = streams
        self.themes = themes
        self.theme = colorsAvailable ? theme : ((try? themes.load("mono")) ?? Theme.fallbackMono)
        self.colorsAvailable = colorsAvailable
        model.themeName = self.theme.name
        model.configPath = configPath
        inbox.follow(engine: engine, streams: streams)
    }

    /// Stops following the engine's and the servers' events.
    public func stop() { inbox.stop() }

    var seconds: Double {
        let elapsed = clock.now - started
        return Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) / 1e18
    }

    /// Takes fresh state from the engine and the admin streams.
    public func refresh() {
        let time = seconds
        model.now = Date()
        model.update(snapshots: engine.snapshot(), time: time)
        model.update(servers: streams.map { ($0.name, $0.state, $0.latest) }, time: time)
        model.clientAtServerSample = inbox.latestSamples.filter { model.serverConnections[$0.key] != nil }
        let new = inbox.drain()
        if !new.isEmpty {
            model.log.append(contentsOf: new)
            // A log scrolled back stays where it is as lines arrive.
            if model.eventScroll > 0 { model.eventScroll += new.filter { $0.matches(model.eventFilter) }.count }
        }
        model.scrollToSelection(rows: tableRows)
    }

    /// Handles one key; returns false when the app should quit.
    public func handle(_ key: Key) -> Bool {
        if key == .interrupt { return false }
        switch model.mode {
        case .help:
            model.mode = .normal
        case .filter:
            handleFilter(key)
        case .form(var form):
            handleForm(key, &form)
        case .confirmDelete(let name):
            model.mode = .normal
            if key == .character("y") || key == .character("Y") { delete(name) }
        case .normal:
            return handleNormal(key)
        }
        return true
    }

    private func handleNormal(_ key: Key) -> Bool {
        switch key {
        case .character("q"), .character("Q"): return false
        case .up, .character("k"): scroll(by: -1)
        case .down, .character("j"): scroll(by: 1)
        case .pageUp: scroll(by: -max(1, tableRows))
        case .pageDown: scroll(by: max(1, tableRows))
        case .home, .character("g"): scroll(by: -100_000)
        case .end, .character("G"): scroll(by: 100_000)
        case .mouse(let event): handleMouse(event)
        case .character("s"): model.sort.cycle()
        case .character("S"): model.sort.reversed.toggle()
        case .character("r"): model.graphRange = model.graphRange == .minute ? .tenMinutes : .minute
        case .enter, .character(" "): toggle()
        case .character("o"): setOpen(true)
        case .character("c"): setOpen(false)
        case .character("a"): model.mode = .form(TunnelForm(editing: nil))
        case .character("e"):
            if let selected = model.selectedTunnel { model.mode = .form(TunnelForm(editing: selected.snapshot.config)) }
        case .character("d"):
            if let selected = model.selectedTunnel { model.mode = .confirmDelete(selected.snapshot.name) }
        case .tab: cyclePane(by: 1)
        case .backTab: cyclePane(by: -1)
        case .character("/"):
            model.mode = .filter
        case .character("t"): cycleTheme()
        case .character("?"), .character("h"): model.mode = .help
        case .escape: model.status = nil
        default: break
        }
        return true
    }

    /// The next (or previous) pane that is on the screen at its current size.
    private func cyclePane(by step: Int) {
        let layout = ScreenLayout.compute(width: screenSize.width, height: screenSize.height, tunnelCount: model.visible.count)
        let shown = TUIModel.Pane.allCases.filter { $0 != .events || layout.events != nil }
        let index = shown.firstIndex(of: model.pane) ?? 0
        model.pane = shown[(index + step + shown.count) % shown.count]
    }

    /// Moves within the focused pane: the tunnel selection, the connection selection, or the
    /// servers' and the event log's lines.
    private func scroll(by delta: Int) {
        switch model.pane {
        case .tunnels: model.move(by: delta)
        case .connections:
            let count = model.joinedConnections.count
            model.connectionSelected = max(0, min(count - 1, model.connectionSelected + delta))
        case .servers: model.serverScroll = max(0, min(10_000, model.serverScroll + delta))
        case .events: model.scrollEvents(by: -delta, pageSize: eventRows)
        }
    }

    /// Lines the event pane shows at the current size.
    private var eventRows: Int {
        let layout = ScreenLayout.compute(width: screenSize.width, height: screenSize.height, tunnelCount: model.visible.count)
        return max(1, (layout.events?.height ?? 4) - 3)
    }

    /// A click selects the pane under it and the row clicked; on the tunnel table's header it sorts by
    /// that column (again: reversed). The wheel scrolls the pane under the pointer.
    private func handleMouse(_ event: MouseEvent) {
        let layout = ScreenLayout.compute(width: screenSize.width, height: screenSize.height, tunnelCount: model.visible.count)
        guard let pane = layout.pane(at: event.x, event.y) else { return }
        switch event.button {
        case .wheelUp, .wheelDown:
            let before = model.pane
            model.pane = pane
            scroll(by: event.button == .wheelUp ? -3 : 3)
            model.pane = before
        case .left:
            model.pane = pane
            guard pane == .tunnels else {
                if pane == .connections, let index = ConnectionsView.index(atY: event.y, rect: layout.connections, model: model) {
                    model.connectionSelected = index
                }
                return
            }
            let inner = layout.tunnels.inner
            if event.y == inner.y {
                let columns = TunnelTableView.columns(width: inner.width - 2, servers: TunnelTableView.hasSeveralServers(model))
                if let title = Column.title(at: event.x - inner.x - 1, in: columns) { model.sort.select(title) }
            } else if event.y > inner.y {
                let index = model.scroll + event.y - inner.y - 1
                if model.visible.indices.contains(index) { model.selected = index }
            }
        }
    }

    private func handleFilter(_ key: Key) {
        let events = model.pane == .events
        var text = events ? model.eventFilter : model.filter
        switch key {
        case .enter: model.mode = .normal
        case .escape:
            text = ""
            model.mode = .normal
        case .backspace: if !text.isEmpty { text.removeLast() }
        case .character(let character): if text.count < 64 { text.append(character) }
        default: break
        }
        if events {
            model.eventFilter = text
            model.eventScroll = 0
        } else if text != model.filter {
            model.filter = text
        }
        model.clampSelection()
    }

    private func handleForm(_ key: Key, _ form: inout TunnelForm) {
        switch key {
        case .escape:
            model.mode = .normal
            return
        case .tab, .down: form.next()
        case .backTab, .up: form.previous()
        case .backspace, .delete: form.backspace()
        case .character(let character): form.type(character)
        case .enter:
            let base = form.editing.flatMap { name in file.tunnels.first { $0.name == name } }
            do {
                let config = try form.build(base: base)
                try commit(config, replacing: form.editing)
                model.mode = .normal
                return
            } catch {
                form.error = error.message
            }
        default: break
        }
        model.mode = .form(form)
    }

    private func toggle() {
        guard let selected = model.selectedTunnel else { return }
        switch selected.snapshot.state {
        case .listening, .opening: setOpen(false)
        case .closed, .error: setOpen(true)
        }
    }

    private func setOpen(_ open: Bool) {
        guard let name = model.selectedTunnel?.snapshot.name else { return }
        let engine = self.engine
        Task {
            if open {
                await engine.open(name)
            } else {
                await engine.close(name)
            }
        }
        model.status = nil
    }

    /// Adds or replaces a tunnel in the engine and the file, then saves.
    private func commit(_ config: TunnelConfig, replacing name: String?) throws(ConfigError) {
        if let name {
            guard config.name == name || !file.tunnels.contains(where: { $0.name == config.name }) else {
                throw ConfigError("Name: a tunnel named '\(config.name)' already exists")
            }
            file.tunnels = file.tunnels.map { $0.name == name ? config : $0 }
            let engine = self.engine
            Task { try? await engine.update(name, to: config) }
        } else {
            guard !file.tunnels.contains(where: { $0.name == config.name }) else {
                throw ConfigError("Name: a tunnel named '\(config.name)' already exists")
            }
            try engine.add(config)
            file.tunnels.append(config)
        }
        save(done: name == nil ? "added \(config.name)" : "saved \(config.name)")
    }

    private func delete(_ name: String) {
        file.tunnels.removeAll { $0.name == name }
        let engine = self.engine
        Task { await engine.remove(name) }
        save(done: "deleted \(name)")
    }

    private func save(done: String) {
        guard let configPath else {
            model.status = ("\(done) (demo: changes are not saved)", false)
            return
        }
        do {
            try TunnelsFileWriter.save(file, to: configPath)
            model.status = ("\(done); saved to \(configPath)", false)
        } catch {
            model.status = ("not saved: \(error.message)", true)
        }
    }

    private func cycleTheme() {
        guard colorsAvailable else {
            model.status = ("no colours here (NO_COLOR or the terminal): theme stays mono", false)
            return
        }
        let names = themes.names
        guard !names.isEmpty else { return }
        let next = names[((names.firstIndex(of: theme.name) ?? -1) + 1) % names.count]
        do {
            theme = try themes.load(next)
            model.themeName = next
            model.status = ("theme: \(next)", false)
        } catch {
            model.status = (error.message, true)
        }
    }
}
