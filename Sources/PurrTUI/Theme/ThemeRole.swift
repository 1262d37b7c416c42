/// Every place the TUI puts colour: the one list themes assign colours to.
public enum ThemeRole: String, CaseIterable, Sendable {
    case normal
    case header
    case headerAccent = "header_accent"
    case border
    case paneTitle = "pane_title"
    case focusedPaneTitle = "focused_pane_title"
    case columnHeader = "column_header"
    case selected
    case dim
    case listening
    case opening
    case closed
    case error
    case up
    case down
    case sparkline
    case footer
    case footerKey = "footer_key"
    case dialog
    case input
    case warning
}
