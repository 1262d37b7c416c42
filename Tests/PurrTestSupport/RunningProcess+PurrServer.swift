import Foundation
import XCTest

extension RunningProcess {
    /// The built `purr-server` on a free loopback port with `config` as its server.toml, written into
    /// `directory` (a fresh temporary one by default; relative paths in the config resolve there).
    /// Returns once it says it listens.
    public static func purrServer(config: String, in directory: URL? = nil, arguments: [String] = []) throws -> (RunningProcess, Int) {
        let folder = directory ?? FileManager.default.temporaryDirectory.appendingPathComponent("purr-server-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        let file = folder.appendingPathComponent("server.toml")
        try config.write(to: file, atomically: true, encoding: .utf8)
        let port = freePort()
        let process = try RunningProcess("purr-server", ["--listen", "127.0.0.1:\(port)", "--config", file.path] + arguments)
        XCTAssertTrue(process.waitForOutput("listening"), process.stderr)
        return (process, port)
    }
}

extension RunningProcess {
    /// A built purr-server with one `[[reverse]]` entry, `web` at `/rev/web` with `token`, published on
    /// 127.0.0.1:`published`; `extra` lines go inside the entry, `arguments` on its command line. Returns
    /// it and its listening port.
    public static func reverseServer(token: String, published: Int, extra: String = "", arguments: [String] = []) throws -> (
        RunningProcess, Int
    ) {
        try purrServer(
            config: """
                [[reverse]]
                name = "web"
                path = "/rev/web"
                token = "\(token)"
                listen = "127.0.0.1:\(published)"
                \(extra)
                """, arguments: arguments)
    }
}
