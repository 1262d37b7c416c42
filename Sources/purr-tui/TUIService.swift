import Foundation
import PurrTUI
import ServiceLifecycle
import Synchronization

/// The screen as a service: runs the app's loop on its own thread (it blocks in ncurses) until the user
/// quits, or until the group's graceful shutdown (SIGINT, SIGTERM, SIGHUP) asks the loop to end.
struct TUIService: Service, CustomStringConvertible {
    let app: TUIApp

    var description: String { "screen" }

    func run() async {
        let app = self.app
        await withGracefulShutdownHandler {
            await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
                Thread {
                    app.run()
                    continuation.resume()
                }.start()
            }
        } onGracefulShutdown: {
            app.quitRequested.store(true, ordering: .relaxed)
        }
    }
}
