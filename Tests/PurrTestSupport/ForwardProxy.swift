import Foundation

/// A real HTTP forward proxy (tinyproxy, squid) started by a test on loopback with its own config in a
/// temporary directory; always stopped.
public protocol ForwardProxy: AnyObject {
    /// The proxy's name, for messages.
    var name: String { get }
    var port: Int { get }
    /// The proxy URL for `purr connect --proxy`, with `credentials` (`user:password`) when given.
    func url(credentials: String?) -> String
    func stop()
}

extension ForwardProxy {
    public func url(credentials: String?) -> String {
        "http://\(credentials.map { $0 + "@" } ?? "")127.0.0.1:\(port)"
    }

    /// Sends a CONNECT to `target` as a client would and returns the answer's head (bounded).
    public func connectAnswer(to target: Int, credentials: String?) throws -> String {
        let socket = try BlockingSocket(port: port, timeout: 10)
        let auth = credentials.map { "Proxy-Authorization: Basic \(Data($0.utf8).base64EncodedString())\r\n" } ?? ""
        try socket.write("CONNECT 127.0.0.1:\(target) HTTP/1.1\r\nHost: 127.0.0.1:\(target)\r\n\(auth)\r\n")
        let (head, _) = try socket.readHead()
        socket.close()
        return head
    }
}

/// Finds an installed program, or says how to get it.
enum ProxyBinary {
    static func find(_ candidates: [String], package: String) throws -> String {
        guard let path = candidates.first(where: { FileManager.default.isExecutableFile(atPath: $0) }) else {
            throw BlockingSocket.Failure(
                description: "\(package) is not installed (apt-get install \(package); scripts/deps.sh test does this)")
        }
        return path
    }

    /// Waits (bounded) until the proxy accepts connections, or says why not with its log.
    static func awaitListening(_ process: RunningProcess, port: Int, name: String, log: String) throws {
        let listening = TestKit.poll(timeout: 20) { (try? BlockingSocket(port: port)) != nil || !process.process.isRunning }
        guard listening, process.process.isRunning else {
            let logText = (try? String(contentsOfFile: log, encoding: .utf8)) ?? ""
            process.stop()
            throw BlockingSocket.Failure(description: "\(name) did not start: \(process.stdout) \(process.stderr) \(logText)")
        }
    }
}
