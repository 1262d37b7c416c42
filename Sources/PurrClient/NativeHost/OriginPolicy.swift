import Foundation
import PurrCore
import Synchronization

/// Which web pages may use the host: `[browser] allowed_origins` in `tunnels.toml`. The extension's
/// popup adds and revokes origins (written back to the file); refused origins are remembered so the
/// popup can offer to allow them.
final class OriginPolicy: Sendable {
    let file: String
    private let state = Mutex<(allowed: [OriginPattern], refused: [String], loadError: String?, stamp: Data?)>(([], [], nil, nil))

    init(file: String) {
        self.file = file
        reload()
    }

    /// What the file holds (nil: there is none). Its bytes, not its modification time: a file replaced by a
    /// rename gets a coarse timestamp (one clock tick), so an edit right after another often kept the same
    /// time and went unseen (a third of quick rewrites on ext4 here). The file is small and read per request.
    private var fileStamp: Data? {
        FileManager.default.contents(atPath: file)
    }

    /// Reads the list again when the file changed (by hand, or by the TUI) since it was last read.
    private func reload() {
        let stamp = fileStamp
        guard state.withLock({ $0.stamp != stamp || stamp == nil }) else { return }
        do {
            let allowed = try Self.read(file).browser.allowedOrigins
            state.withLock {
                $0.allowed = allowed
                $0.loadError = nil
                $0.stamp = stamp
            }
        } catch {
            state.withLock {
                $0.allowed = []
                $0.loadError = error.message
                $0.stamp = stamp
            }
        }
    }

    /// Extension pages (our popup and background) may do everything.
    static func isExtension(_ origin: String) -> Bool {
        origin.hasPrefix("chrome-extension://") || origin.hasPrefix("moz-extension://")
    }

    /// Nil when the origin may use the host, else the error for the page. Messages without an
    /// origin come from the original extension, which never sent one: served as before.
    func refusal(for origin: String?) -> String? {
        guard let origin, !Self.isExtension(origin) else { return nil }
        reload()
        return state.withLock { state in
            if state.allowed.contains(where: { $0.matches(origin) }) { return nil }
            // A broken file is the problem to fix, not this origin.
            if let loadError = state.loadError { return "origin '\(origin)' is not allowed: \(loadError)" }
            if !state.refused.contains(origin) {
                state.refused.append(origin)
                if state.refused.count > 20 { state.refused.removeFirst() }
            }
            return "origin '\(origin)' is not allowed to open tunnels (allow it in the Purr extension's popup)"
        }
    }

    var list: OriginList {
        reload()
        return state.withLock { OriginList(allowed: $0.allowed.map(\.description), refused: $0.refused) }
    }

    func allow(_ text: String) throws(ConfigError) {
        let pattern = try OriginPattern(parsing: text)
        try change { allowed in
            if !allowed.contains(pattern) { allowed.append(pattern) }
        }
        state.withLock { $0.refused.removeAll { pattern.matches($0) } }
    }

    func revoke(_ text: String) throws(ConfigError) {
        let pattern = try OriginPattern(parsing: text)
        try change { allowed in allowed.removeAll { $0 == pattern } }
    }

    /// Reads the file afresh (the TUI may have changed it), changes the list, writes it back.
    private func change(_ edit: (inout [OriginPattern]) -> Void) throws(ConfigError) {
        var contents = try Self.read(file)
        edit(&contents.browser.allowedOrigins)
        try TunnelsFileWriter.save(contents, to: file)
        let stamp = fileStamp
        state.withLock {
            $0.allowed = contents.browser.allowedOrigins
            $0.loadError = nil
            $0.stamp = stamp
        }
    }

    private static func read(_ file: String) throws(ConfigError) -> TunnelsFile {
        guard FileManager.default.fileExists(atPath: file) else { return TunnelsFile() }
        return try TunnelsFile.load(file: file)
    }
}
