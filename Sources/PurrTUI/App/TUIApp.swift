import Foundation
import PurrClient
import Synchronization

/// The loop: read keys, refresh the model about ten times a second, draw only when the screen changed.
public final class TUIApp: @unchecked Sendable {
    let controller: TUIController
    let terminal: any Terminal
    /// Set by SIGTERM/SIGHUP/SIGINT: quit at the next tick, restoring the terminal.
    public let quitRequested = Atomic<Bool>(false)

    public init(controller: TUIController, terminal: any Terminal) {
        self.controller = controller
        self.terminal = terminal
    }

    /// Runs until the user quits; blocks the calling thread (the UI's own).
    public func run() {
        var appliedTheme = controller.theme
        terminal.apply(appliedTheme)
        var lastGrid: CellGrid?
        var lastRefresh = Date.distantPast
        while !quitRequested.load(ordering: .relaxed) {
            let (width, height) = terminal.size
            controller.tableRows = ScreenRenderer.tableRows(height: height, tunnelCount: controller.model.visible.count)
            controller.screenSize = (width, height)
            if Date().timeIntervalSince(lastRefresh) >= 0.1 {
                controller.refresh()
                lastRefresh = Date()
            }
            if controller.theme != appliedTheme {
                appliedTheme = controller.theme
                terminal.apply(appliedTheme)
                lastGrid = nil
            }
            let grid = ScreenRenderer.render(controller.model, width: width, height: height)
            if grid != lastGrid {
                terminal.draw(grid)
                lastGrid = grid
            }
            guard let key = terminal.readKey(timeoutMs: 100) else {
                if terminal.isGone { break }
                continue
            }
            if key == .resize {
                lastGrid = nil
                continue
            }
            if !controller.handle(key) { break }
            // Keys are handled at once; the next refresh waits for the 100 ms tick.
        }
        controller.stop()
        terminal.shutdown()
    }
}
