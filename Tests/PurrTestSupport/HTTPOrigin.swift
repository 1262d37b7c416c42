import Foundation
import XCTest

/// A real HTTP origin (Python's `http.server`) on a free loopback port, serving the files it was given
/// from a directory of its own; `stop()` stops it and removes the directory. The directory may hold the
/// test's other files too (a `tunnels.toml`, a HOME): they go with it.
public final class HTTPOrigin: Sendable {
    public let directory: URL
    public let process: RunningProcess
    public let port: Int

    /// `files`: name to contents. `name`: the directory's prefix, for a reader of /tmp.
    public init(_ name: String, files: [String: Data], bind: String = "127.0.0.1") throws {
        directory = FileManager.default.temporaryDirectory.appendingPathComponent("\(name)-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        do {
            for (file, contents) in files { try contents.write(to: directory.appendingPathComponent(file)) }
            (process, port) = try DynamicPeers.httpOrigin(serving: directory, bind: bind)
        } catch {
            try? FileManager.default.removeItem(at: directory)
            throw error
        }
    }

    /// An origin whose `index.html` is `body`.
    public convenience init(_ name: String, index body: String) throws {
        try self.init(name, files: ["index.html": Data(body.utf8)])
    }

    public func stop() {
        process.stop()
        try? FileManager.default.removeItem(at: directory)
    }
}
