/// Every key the TUI answers to, with its words: the footer and the help overlay read this list.
public enum Keymap {
    public struct Binding: @unchecked Sendable {
        public let keys: String
        public let action: String
        /// The footer's short form (key and word), or nil to show it in the help overlay only.
        public let footer: (key: String, word: String)?
    }

    public static let bindings: [Binding] = [
        Binding(keys: "↑↓ j k", action: "move", footer: ("↑↓", "move")),
        Binding(keys: "PgUp PgDn Home End", action: "move by page / to the ends", footer: nil),
        Binding(keys: "Enter Space", action: "open or close the selected tunnel", footer: ("Enter", "open/close")),
        Binding(keys: "o / c", action: "open / close the selected tunnel", footer: nil),
        Binding(keys: "a", action: "add a tunnel", footer: ("a", "add")),
        Binding(keys: "e", action: "edit the selected tunnel", footer: ("e", "edit")),
        Binding(keys: "d", action: "delete the selected tunnel (asks first)", footer: ("d", "delete")),
        Binding(keys: "Tab", action: "next pane (Shift-Tab: previous)", footer: ("Tab", "pane")),
        Binding(keys: "/", action: "filter the focused pane (Esc clears)", footer: ("/", "filter")),
        Binding(keys: "s / S", action: "sort tunnels by the next column / reverse", footer: ("s", "sort")),
        Binding(keys: "r", action: "graph range: 60 s or 10 min", footer: nil),
        Binding(keys: "mouse", action: "click selects, a header sorts; wheel scrolls", footer: nil),
        Binding(keys: "t", action: "next theme", footer: ("t", "theme")),
        Binding(keys: "?", action: "this help", footer: ("?", "help")),
        Binding(keys: "q Ctrl-C", action: "quit (closes tunnels, restores the terminal)", footer: ("q", "quit")),
    ]
}
