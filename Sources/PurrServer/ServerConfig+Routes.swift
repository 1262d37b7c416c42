import PurrCore

extension ServerConfig {
    /// The keys every `[[routes]]` entry may have; the dynamic forms add theirs (`DynamicRouteForm.all`).
    static let routeKeys = ["path", "target", "token", "host", "max_connections", "allow"]

    /// One `[[routes]]` entry: `target` (a fixed `HOST:PORT`, or a template like `{host}:{port}` for a
    /// path with captures) or exactly one dynamic form (`token_file`, ...); `allow` for every target
    /// chosen per request. Every error names the file and the key.
    static func route(from entry: TOMLReader) throws(ConfigError) -> Route {
        try entry.checkKeys(Set(routeKeys + DynamicRouteForm.allKeys))
        let path = try entry.requiredString("path")
        let host = try entry.string("host")
        let token = try entry.string("token")
        let captures = try entry.wrap("path") { () throws(ConfigError) in try PathTemplate(path)?.captureNames ?? [] }
        let forms = DynamicRouteForm.all.compactMap { form in form.selectors.first(where: entry.has).map { (form, $0) } }
        let targetText = try entry.string("target")
        let choices = ["target"] + DynamicRouteForm.all.flatMap(\.selectors)
        let given = (targetText == nil ? [] : ["target"]) + forms.map(\.1)
        guard given.count == 1 else {
            let message =
                given.isEmpty
                ? ".target: missing (required, or one of \(choices.dropFirst().joined(separator: ", ")))"
                : ": give only one of \(given.joined(separator: ", "))"
            throw ConfigError("\(entry.file): \(entry.path)\(message)")
        }
        // An option of a form the entry does not use (resolver_timeout beside target) is a mistake, not noise.
        for form in DynamicRouteForm.all where !forms.contains(where: { $0.0.selectors == form.selectors }) {
            if let stray = form.options.first(where: entry.has) {
                throw ConfigError(
                    "\(entry.file): \(entry.path).\(stray): only for a route with \(form.selectors.joined(separator: " or "))")
            }
        }
        // The allow list is checked first: it is what makes a target chosen per request safe.
        let dynamic = targetText.map { !captures.isEmpty || $0.contains("{") } ?? true
        var allow: AllowList?
        if entry.has("allow") {
            guard dynamic else {
                throw ConfigError(
                    "\(entry.file): \(entry.path).allow: only a target chosen per request (template, \(choices.dropFirst().joined(separator: ", "))) takes an allow list"
                )
            }
            let entries = try entry.stringArray("allow")
            allow = try entry.wrap("allow") { () throws(ConfigError) in try AllowList(entries) }
        } else if dynamic {
            throw ConfigError(
                "\(entry.file): \(entry.path).allow: missing (required for a target chosen per request), e.g. allow = [\"10.0.0.0/8:5900-5999\", \"*.vms.internal:5900\"]"
            )
        }
        let target: RouteTarget
        if let targetText {
            target = try entry.wrap("target") { () throws(ConfigError) -> RouteTarget in
                if !dynamic { return .fixed(try HostPort(parsing: targetText)) }
                guard targetText.contains("{") else {
                    throw ConfigError("a path with captures needs a target that uses them, like {host}:{port}")
                }
                return .template(try TargetTemplate(targetText, captures: captures))
            }
        } else {
            let (form, selector) = forms[0]
            if token != nil && !form.takesRouteToken {
                throw ConfigError(
                    "\(entry.file): \(entry.path).token: a \(selector) route takes no route token (the request's token is its input)")
            }
            target = try form.build(DynamicRouteEntry(reader: entry, path: path, captures: captures, selector: selector))
        }
        var route = try entry.wrap("path") { () throws(ConfigError) in
            try Route(path: path, target: target, allow: allow, token: token, host: host)
        }
        route.maxConnections = try entry.int("max_connections", range: Self.connectionLimitRange)
        return route
    }
}
