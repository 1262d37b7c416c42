import Foundation

/// A private CA and a server certificate for localhost/127.0.0.1, made with the openssl command.
public struct TestCertificates {
    public let directory: String
    public let caFile: String
    public let certificateFile: String
    public let keyFile: String

    public static func make(name: String = "ca") throws -> TestCertificates {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("certs-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        let script = """
            set -e
            cd '\(directory)'
            openssl req -x509 -newkey rsa:2048 -nodes -keyout ca.key -out ca.pem -days 2 -subj '/CN=Purr Test \(name)' 2>/dev/null
            openssl req -newkey rsa:2048 -nodes -keyout server.key -out server.csr -subj '/CN=localhost' 2>/dev/null
            printf 'subjectAltName=DNS:localhost,IP:127.0.0.1\\n' > ext.cnf
            openssl x509 -req -in server.csr -CA ca.pem -CAkey ca.key -CAcreateserial -out server.pem -days 2 -extfile ext.cnf 2>/dev/null
            """
        let result = try RunningProcess.run(absolute: "/bin/sh", ["-c", script], timeout: 60)
        guard result.status == 0 else { throw BlockingSocket.Failure(description: "openssl failed: \(result.stderr)") }
        return TestCertificates(
            directory: directory, caFile: "\(directory)/ca.pem", certificateFile: "\(directory)/server.pem",
            keyFile: "\(directory)/server.key")
    }
}
