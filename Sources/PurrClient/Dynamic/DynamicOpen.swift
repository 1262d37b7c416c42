import PurrCore

/// A dynamic tunnel asked for by a program rather than a file (the native host's `open`, with
/// `args.mode` and `args.allow`): the same checks as `tunnels.toml` makes.
public enum DynamicOpen {
    /// The mode named (nil or `fixed`: a fixed tunnel); `place` names the argument in errors.
    public static func mode(_ text: String?, place: String = "args.mode") throws(ConfigError) -> TunnelMode {
        guard let text else { return .fixed }
        // A reverse tunnel has no local port to hand back to the program that asked.
        guard let mode = TunnelMode(rawValue: text), mode != .reverse else {
            throw ConfigError("\(place): '\(text.printableLine)' is not fixed, socks5, http-proxy or proxy")
        }
        return mode
    }

    /// The URL, read as a template (`{host}` and `{port}` in its path) for a dynamic mode.
    public static func serverURL(_ text: String, mode: TunnelMode) throws(ConfigError) -> ServerURL {
        mode.isDynamic ? try ServerURL(parsingTemplate: text) : try ServerURL(parsing: text)
    }

    /// Puts the mode and its allow list on `config`; an allow list needs a dynamic mode.
    public static func apply(mode: TunnelMode, allow: [String]?, to config: inout TunnelConfig, place: String = "args.allow")
        throws(ConfigError)
    {
        config.mode = mode
        guard let allow else { return }
        guard mode.isDynamic else { throw ConfigError("\(place): only for a dynamic tunnel (mode socks5, http-proxy or proxy)") }
        do { config.allow = try AllowList(allow) } catch { throw error.located(place) }
    }
}
