import Foundation
import PurrCore
import Synchronization

/// Which web pages may use the host: `[browser] allowed_origins` in `tunnels.toml`. The extension's
/// popup adds and revokes origins (written back to the file); refused origins are remembered so the
/// popup can offer to allow them.
final class OriginPolicy: Sendable {
    let file: String
    let caller: NativeHostCaller
    private let state = Mutex<(browser: TunnelsFile.Browser, refused: [String], loadError: String?, stamp: Data?)>(
        (TunnelsFile.Browser(), [], nil, nil))

    init(file: String, caller: NativeHostCaller = .unknown) {
        self.file = file
        self.caller = caller
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
            let browser = try Self.read(file).browser
            state.withLock {
                $0.browser = browser
                $0.loadError = nil
                $0.stamp = stamp
            }
        } catch {
            state.withLock {
                $0.browser = TunnelsFile.Browser()
                $0.loadError = error.message
                $0.stamp = stamp
            }
        }
    }

    /// Our own extension's pages (its popup and background) may do everything; no other extension's.
    func isExtension(_ request: HostRequest) -> Bool {
        guard let origin = request.origin, !request.originIsInvalid else { return false }
        return caller.isOwnExtension(origin)
    }

    /// A message without an origin, served only when `[browser] legacy_extension = true`: the original
    /// Manifest V2 extension never sent one, and nothing else should be trusted without one.
    func isLegacy(_ request: HostRequest) -> Bool {
        guard request.origin == nil, !request.originIsInvalid else { return false }
        reload()
        return state.withLock { $0.browser.legacyExtension }
    }

    /// Nil when the message's origin may use the page commands, else the error for it. Fails closed: no
    /// origin, one that is not a string, another extension's: refused.
    func refusal(for request: HostRequest) -> String? {
        if request.originIsInvalid { return "origin must be a string" }
        guard let origin = request.origin else {
            if isLegacy(request) { return nil }
            return "a message without an origin is refused (set [browser] legacy_extension = true in \(file) "
                + "to serve the original extension)"
        }
        if NativeHostCaller.isExtensionScheme(origin) {
            return caller.isOwnExtension(origin) ? nil : "origin '\(origin.printableLine)' is not the Purr extension"
        }
        reload()
        return state.withLock { state in
            if state.browser.allowedOrigins.contains(where: { $0.matches(origin) }) { return nil }
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
        return state.withLock { OriginList(allowed: $0.browser.allowedOrigins.map(\.description), refused: $0.refused) }
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
            $0.browser = contents.browser
            $0.loadError = nil
            $0.stamp = stamp
        }
    }

    private static func read(_ file: String) throws(ConfigError) -> TunnelsFile {
        guard FileManager.default.fileExists(atPath: file) else { return TunnelsFile() }
        return try TunnelsFile.load(file: file)
    }
}
