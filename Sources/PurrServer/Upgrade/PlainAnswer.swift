/// An answer on the upgrade listener to a request that is not an upgrade: the health check
/// (`HealthCheck`). It is written whole and the connection closes; it is not counted as a connection.
struct PlainAnswer: Equatable {
    var status: Int
    var reasonPhrase: String
    var body: String
    /// Extra header lines, `Name: value` each (`Retry-After`, `Allow`).
    var headers: [String] = []
    /// A `HEAD` request: the same head, no body.
    var headOnly = false

    /// The answer on the wire.
    var response: String {
        var text = "HTTP/1.1 \(status) \(reasonPhrase)\r\n"
        text += "Content-Type: text/plain; charset=utf-8\r\n"
        text += "Content-Length: \(body.utf8.count)\r\n"
        text += "Cache-Control: no-store\r\n"
        for line in headers { text += line + "\r\n" }
        text += "Connection: close\r\n\r\n"
        return headOnly ? text : text + body
    }
}
