import CNCurses
import Foundation

/// The real terminal, through ncursesw.
public final class NCursesTerminal: Terminal {
    private var pairs: [ThemeRole: (pair: Int16, attributes: UInt32)] = [:]
    private var lastDrawn: CellGrid?
    public let hasColors: Bool
    private var isOpen = true

    /// Takes over the terminal. `colorsAllowed` is false when NO_COLOR is set.
    public init(colorsAllowed: Bool) {
        setlocale(LC_ALL, "")
        initscr()
        raw()
        noecho()
        keypad(purr_stdscr(), true)
        curs_set(0)
        set_escdelay(25)
        purr_mouse_on()
        if colorsAllowed && has_colors() {
            start_color()
            use_default_colors()
            hasColors = purr_colors() >= 8
        } else {
            hasColors = false
        }
        CrashGuard.install()
    }

    deinit { shutdown() }

    public var size: (width: Int, height: Int) { (Int(purr_cols()), Int(purr_lines())) }

    public func apply(_ theme: Theme) {
        pairs = [:]
        let colors = Int(purr_colors())
        for (index, role) in ThemeRole.allCases.enumerated() {
            let style = theme.style(role)
            var attributes: UInt32 = 0
            if style.bold { attributes |= purr_a_bold() }
            if style.underline { attributes |= purr_a_underline() }
            if style.reverse { attributes |= purr_a_reverse() }
            if style.dim { attributes |= purr_a_dim() }
            var pair: Int16 = 0
            if hasColors, index + 1 < Int(purr_color_pairs()) {
                pair = Int16(index + 1)
                init_pair(
                    pair, Int16(style.foreground.paletteIndex(colors: colors)), Int16(style.background.paletteIndex(colors: colors)))
            }
            pairs[role] = (pair, attributes)
        }
        lastDrawn = nil
        clear()
    }

    public func draw(_ grid: CellGrid) {
        let fresh = lastDrawn.map { $0.width != grid.width || $0.height != grid.height } ?? true
        for y in 0..<grid.height {
            for x in 0..<grid.width {
                let cell = grid[x, y]
                if !fresh, let lastDrawn, lastDrawn[x, y] == cell { continue }
                let style = pairs[cell.role] ?? (0, 0)
                _ = purr_put(Int32(y), Int32(x), cell.scalar.value, style.pair, style.attributes)
            }
        }
        refresh()
        lastDrawn = grid
    }

    public func readKey(timeoutMs: Int) -> Key? {
        timeout(Int32(timeoutMs))
        var value: UInt32 = 0
        var isCode: Int32 = 0
        guard purr_get_key(&value, &isCode) != ERR else { return nil }
        if isCode != 0 {
            if Int32(value) == purr_key_mouse() { return Self.mouseEvent() }
            return Self.functionKey(Int32(value))
        }
        switch value {
        case 3: return .interrupt
        case 9: return .tab
        case 10, 13: return .enter
        case 27: return .escape
        case 8, 127: return .backspace
        default:
            guard let scalar = Unicode.Scalar(value), value >= 32 else { return nil }
            return .character(Character(scalar))
        }
    }

    static func functionKey(_ code: Int32) -> Key? {
        switch code {
        case purr_key_up(): return .up
        case purr_key_down(): return .down
        case purr_key_left(): return .left
        case purr_key_right(): return .right
        case purr_key_ppage(): return .pageUp
        case purr_key_npage(): return .pageDown
        case purr_key_home(): return .home
        case purr_key_end(): return .end
        case purr_key_enter(): return .enter
        case purr_key_backspace(): return .backspace
        case purr_key_dc(): return .delete
        case purr_key_btab(): return .backTab
        case purr_key_resize(): return .resize
        default: return nil
        }
    }

    static func mouseEvent() -> Key? {
        var x: Int32 = 0
        var y: Int32 = 0
        var button: Int32 = 0
        guard purr_get_mouse(&x, &y, &button) == OK else { return nil }
        switch button {
        case 1: return .mouse(MouseEvent(x: Int(x), y: Int(y), button: .left))
        case 4: return .mouse(MouseEvent(x: Int(x), y: Int(y), button: .wheelUp))
        case 5: return .mouse(MouseEvent(x: Int(x), y: Int(y), button: .wheelDown))
        default: return nil
        }
    }

    /// A hung-up terminal makes every read fail at once; without this check the loop would spin.
    public var isGone: Bool {
        var descriptor = pollfd(fd: STDIN_FILENO, events: Int16(POLLIN), revents: 0)
        guard poll(&descriptor, 1, 0) >= 0 else { return true }
        return descriptor.revents & Int16(POLLHUP | POLLERR | POLLNVAL) != 0
    }

    public func shutdown() {
        guard isOpen else { return }
        isOpen = false
        endwin()
    }
}

/// Restores the terminal if the process dies of a fatal signal, then lets the signal do its work.
enum CrashGuard {
    static func install() {
        for number in [SIGSEGV, SIGBUS, SIGILL, SIGFPE, SIGABRT, SIGTRAP] {
            signal(number) { received in
                endwin()
                signal(received, SIG_DFL)
                raise(received)
            }
        }
    }
}
