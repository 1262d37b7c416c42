import PurrClient
import PurrCore

/// What identifies a tunnel's server in a narrow column: `host:port/path`, cut from the left of the
/// host when it does not fit, so the port and the path (the route) always stay.
public enum RemoteText {
    public static func shorten(_ url: ServerURL, width: Int) -> String {
        guard width > 0 else { return "" }
        let host = url.host.contains(":") ? "[\(url.host)]" : url.host
        let tail = ":\(url.port)\(url.path.redactingQuery)"  // never a token on the screen
        let full = (url.scheme == .https ? "https " : "") + host + tail
        if full.unicodeScalars.count <= width { return full }
        if (host + tail).unicodeScalars.count <= width { return host + tail }
        let room = width - tail.unicodeScalars.count - 1
        if room >= 1 { return "…" + String(String.UnicodeScalarView(host.unicodeScalars.suffix(room))) + tail }
        // Not even the route fits: keep its end, which names it.
        return "…" + String(String.UnicodeScalarView(tail.unicodeScalars.suffix(width - 1)))
    }
}
