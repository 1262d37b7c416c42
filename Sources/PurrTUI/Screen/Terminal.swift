/// A key press, as the app understands it.
public enum Key: Equatable, Sendable {
    case character(Character)
    case up, down, left, right, pageUp, pageDown, home, end
    case enter, backspace, delete, tab, backTab, escape
    case resize
    case interrupt
    case mouse(MouseEvent)
}

/// A mouse press or wheel turn at a screen cell (the terminal's SGR mouse mode).
public struct MouseEvent: Equatable, Sendable {
    public enum Button: Sendable { case left, wheelUp, wheelDown }
    public var x: Int
    public var y: Int
    public var button: Button

    public init(x: Int, y: Int, button: Button) {
        self.x = x
        self.y = y
        self.button = button
    }
}

/// What the app needs from a screen: its size, drawing a grid, reading keys. The ncurses terminal is the
/// real one; tests render grids without any terminal.
public protocol Terminal: AnyObject {
    var size: (width: Int, height: Int) { get }
    /// Whether the terminal can show colours (false: themes fall back to mono).
    var hasColors: Bool { get }
    func apply(_ theme: Theme)
    func draw(_ grid: CellGrid)
    /// Waits up to `timeoutMs` for a key; nil on timeout.
    func readKey(timeoutMs: Int) -> Key?
    /// Whether the terminal went away (its window closed without a signal reaching us).
    var isGone: Bool { get }
    /// Restores the terminal.
    func shutdown()
}
