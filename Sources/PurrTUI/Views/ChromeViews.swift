import Foundation
import PurrClient

/// The header line: name, counts, each watched server's stream state, the clock.
enum HeaderView {
    static func draw(_ model: TUIModel, into grid: inout CellGrid, width: Int) {
        grid.fill(x: 0, y: 0, width: width, height: 1, role: .header)
        let counts = model.counts
        var x = grid.put(" Purr ", x: 0, y: 0, role: .headerAccent)
        x += grid.put(" tunnels \(counts.tunnels) · open \(counts.open) · active \(counts.active) ", x: x, y: 0, role: .header)
        let clock = Format.clock(model.now)
        for server in model.servers {
            let text = "  \(server.name): \(ServerView.headerWord(server))"
            if x + text.count + clock.count + 2 > width { break }
            x += grid.put(text, x: x, y: 0, role: .header)
        }
        grid.put(clock, x: width - clock.count - 1, y: 0, role: .header)
    }
}

/// The footer: the main keys, or the status line when there is news.
enum FooterView {
    static func draw(_ model: TUIModel, into grid: inout CellGrid, width: Int, y: Int) {
        grid.fill(x: 0, y: y, width: width, height: 1, role: .footer)
        if model.mode == .filter {
            let (what, text) = model.pane == .events ? ("events", model.eventFilter) : ("tunnels", model.filter)
            grid.put(" filter \(what): \(text)▏ (Enter keeps it, Esc clears)", x: 0, y: y, role: .footer, maxWidth: width)
            return
        }
        if let status = model.status {
            grid.put(" " + status.text, x: 0, y: y, role: status.isError ? .error : .footer, maxWidth: width)
            return
        }
        var x = 1
        // Help and quit come first after moving, so they survive a narrow terminal.
        let shortcuts = Keymap.bindings.compactMap(\.footer)
        let ordered = shortcuts.prefix(2) + shortcuts.suffix(2) + shortcuts.dropFirst(2).dropLast(2)
        // A failing tunnel's last error takes the right part of the line: failures are what matters most.
        var failure = ""
        if let failing = model.failingTunnel {
            failure = "✖ \(failing.snapshot.name): \(failing.snapshot.lastError ?? "connections fail") "
        }
        let keysWidth = failure.isEmpty ? width : max(width / 2, width - failure.count - 1)
        for (key, action) in ordered {
            guard x + key.count + action.count + 3 < keysWidth else { break }
            x += grid.put(key, x: x, y: y, role: .footerKey)
            x += grid.put(" \(action)  ", x: x, y: y, role: .footer)
        }
        if !failure.isEmpty {
            let room = width - x - 1
            let shown = Format.truncate(failure, width: room)
            grid.put(shown, x: width - shown.unicodeScalars.count - 1, y: y, role: .error)
        }
    }
}

/// The help overlay: every key.
enum HelpOverlay {
    static func draw(into grid: inout CellGrid, width: Int, height: Int) {
        let keyWidth = Keymap.bindings.map(\.keys.count).max() ?? 10
        let boxWidth = min(width - 4, keyWidth + 50)
        let boxHeight = min(height - 2, Keymap.bindings.count + 4)
        let x = (width - boxWidth) / 2
        let y = (height - boxHeight) / 2
        grid.fill(x: x, y: y, width: boxWidth, height: boxHeight, role: .dialog)
        grid.box(x: x, y: y, width: boxWidth, height: boxHeight, title: "Keys", titleRole: .focusedPaneTitle)
        for (index, binding) in Keymap.bindings.enumerated() where index < boxHeight - 4 {
            grid.put(Format.pad(binding.keys, keyWidth), x: x + 2, y: y + 1 + index, role: .footerKey)
            grid.put(binding.action, x: x + 3 + keyWidth, y: y + 1 + index, role: .dialog, maxWidth: boxWidth - keyWidth - 5)
        }
        grid.put("any key closes this help", x: x + 2, y: y + boxHeight - 2, role: .dim, maxWidth: boxWidth - 4)
    }
}

/// The add/edit form.
enum FormOverlay {
    static func draw(_ form: TunnelForm, into grid: inout CellGrid, width: Int, height: Int) {
        let boxWidth = min(width - 4, 72)
        // Fields, a blank line, two hint lines, a blank line and the keys (the smallest screen takes it all).
        let boxHeight = min(height, TunnelForm.labels.count + 7)
        let x = (width - boxWidth) / 2
        let y = max(boxHeight == height ? 0 : 1, (height - boxHeight) / 2)
        grid.fill(x: x, y: y, width: boxWidth, height: boxHeight, role: .dialog)
        grid.box(
            x: x, y: y, width: boxWidth, height: boxHeight, title: form.editing == nil ? "Add tunnel" : "Edit tunnel",
            titleRole: .focusedPaneTitle)
        for (index, label) in TunnelForm.labels.enumerated() {
            let row = y + 1 + index
            grid.put(Format.pad(label, 8), x: x + 2, y: row, role: .dialog)
            let fieldWidth = boxWidth - 13
            let value = form.values[index]
            let shown = value.count >= fieldWidth ? "…" + String(value.suffix(fieldWidth - 2)) : value
            grid.put(
                Format.pad(shown + (index == form.focus ? "▏" : ""), fieldWidth), x: x + 11, y: row,
                role: index == form.focus ? .input : .dialog)
        }
        let below = y + 2 + TunnelForm.labels.count
        if let error = form.error {
            grid.put(error, x: x + 2, y: below, role: .error, maxWidth: boxWidth - 4)
        } else {
            grid.put(TunnelForm.hint, x: x + 2, y: below, role: .dim, maxWidth: boxWidth - 4)
        }
        grid.put(TunnelForm.serversHint, x: x + 2, y: below + 1, role: .dim, maxWidth: boxWidth - 4)
        grid.put("Tab/↑↓ field · Enter save · Esc cancel", x: x + 2, y: y + boxHeight - 2, role: .dim, maxWidth: boxWidth - 4)
    }
}

/// The delete confirmation.
enum ConfirmOverlay {
    static func draw(name: String, into grid: inout CellGrid, width: Int, height: Int) {
        let text = "Delete tunnel '\(name)'? y deletes, any other key keeps it."
        let boxWidth = min(width - 4, text.count + 6)
        let x = (width - boxWidth) / 2
        let y = height / 2 - 2
        grid.fill(x: x, y: y, width: boxWidth, height: 4, role: .dialog)
        grid.box(x: x, y: y, width: boxWidth, height: 4, title: "Delete", titleRole: .warning)
        grid.put(text, x: x + 2, y: y + 1, role: .dialog, maxWidth: boxWidth - 4)
    }
}
