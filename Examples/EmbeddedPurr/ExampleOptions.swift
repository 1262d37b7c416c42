import PurrCore

/// `--http HOST:PORT --purr HOST:PORT [--allow ENTRY]... NAME=HOST:PORT...`; defaults 127.0.0.1:8081,
/// 127.0.0.1:8080, and an allow list of the loopback network.
struct ExampleOptions {
    var http = HostPort(host: "127.0.0.1", port: 8081)
    var purr = HostPort(host: "127.0.0.1", port: 8080)
    var allow: [String] = []
    var machines: [String: HostPort] = [:]

    init(_ arguments: ArraySlice<String>) {
        var rest = arguments
        do {
            while let argument = rest.popFirst() {
                switch argument {
                case "--http": http = try HostPort(parsing: rest.popFirst() ?? "", allowZeroPort: true)
                case "--purr": purr = try HostPort(parsing: rest.popFirst() ?? "", allowZeroPort: true)
                case "--allow": allow.append(rest.popFirst() ?? "")
                default:
                    let parts = argument.split(separator: "=", maxSplits: 1)
                    guard parts.count == 2 else { throw ConfigError("'\(argument)': expected NAME=HOST:PORT") }
                    machines[String(parts[0])] = try HostPort(parsing: String(parts[1]))
                }
            }
        } catch {
            CommandLineSupport.usageError("purr-embed-example", "\(error)")
        }
        if allow.isEmpty { allow = ["127.0.0.0/8:*"] }
    }
}
