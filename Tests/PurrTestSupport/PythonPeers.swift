import Foundation

/// The Python WebSocket peers the tests drive (the `websockets` library, websockify), from the venv
/// `.ci/run` makes (`.ci/venv`, pinned by `.ci/requirements.txt`) or the one `PURR_TEST_VENV` names.
public enum PythonPeers {
    public struct Missing: Error, CustomStringConvertible {
        public let description: String
    }

    /// The repository root (this file is Tests/PurrTestSupport/PythonPeers.swift).
    static var repositoryRoot: URL {
        var dir = URL(fileURLWithPath: #filePath)
        for _ in 0..<3 { dir.deleteLastPathComponent() }
        return dir
    }

    public static var venv: URL {
        if let named = ProcessInfo.processInfo.environment["PURR_TEST_VENV"], !named.isEmpty {
            return URL(fileURLWithPath: named)
        }
        return repositoryRoot.appendingPathComponent(".ci/venv")
    }

    /// A program of the venv (`python`, `websockify`); missing, a test fails saying how to get it.
    public static func program(_ name: String) throws -> String {
        let path = venv.appendingPathComponent("bin").appendingPathComponent(name).path
        guard FileManager.default.isExecutableFile(atPath: path) else {
            throw Missing(
                description:
                    "\(path) is missing: run .ci/run, or python3 -m venv .ci/venv && .ci/venv/bin/pip install -r .ci/requirements.txt"
            )
        }
        return path
    }

    /// Runs `ws_client.py URL MODE ARGS...` (bounded) and decodes the JSON line it prints.
    public static func webSocketClient(_ url: String, _ mode: String, _ arguments: [Int] = [], timeout: Double = 60) throws -> [String: Any]
    {
        let script = WireFixtures.url("ws_client.py").path
        let result = try RunningProcess.run(
            absolute: try program("python"), [script, url, mode] + arguments.map(String.init), timeout: timeout)
        guard result.status == 0, let line = result.stdout.split(separator: "\n").last,
            let object = try JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any]
        else {
            throw Missing(description: "ws_client.py \(mode) failed (\(result.status)): \(result.stdout) \(result.stderr)")
        }
        return object
    }
}
