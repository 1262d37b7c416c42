import PurrCore

extension ServerURL {
    /// A dynamic tunnel's URL: `{host}` and `{port}` in its path (or query), filled for every request,
    /// e.g. `https://purr.example/t/{host}/{port}`. The rest is checked as any server URL is.
    public init(parsingTemplate text: String) throws(ConfigError) {
        let shown = TargetRedaction.redacting(text, refused: true).printableLine
        guard text.contains("{host}"), text.contains("{port}") else {
            throw ConfigError(
                "'\(shown)': a dynamic tunnel's URL needs {host} and {port} in its path, like https://purr.example/t/{host}/{port}"
            )
        }
        // `URLComponents` refuses `{`: the URL is checked with sample values in their place, put back after.
        let (hostMark, portMark) = ("purr-host-0mark", "purr-port-0mark")
        try self.init(parsing: text.replacingAll("{host}", with: hostMark).replacingAll("{port}", with: portMark))
        guard path.contains(hostMark), path.contains(portMark) else {
            throw ConfigError(
                "'\(shown)': {host} and {port} belong in the URL's path, like https://purr.example/t/{host}/{port}")
        }
        path = path.replacingAll(hostMark, with: "{host}").replacingAll(portMark, with: "{port}")
    }
}
