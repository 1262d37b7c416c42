import Foundation

/// Signs tokens as a web console written in Python would: PyJWT from the test venv (`.ci/requirements.txt`).
public enum PyJWTSigner {
    static let script = """
        import json, sys, time, jwt
        algorithm, key_arg, claims = sys.argv[1], sys.argv[2], json.loads(sys.argv[3])
        key = open(key_arg).read() if algorithm == "ES256" else key_arg
        for name in ("exp", "nbf"):
            if name in claims:
                claims[name] = int(time.time()) + claims[name]
        print(jwt.encode(claims, key, algorithm=algorithm))
        """

    /// `claims` with `exp` and `nbf` given in seconds from now; `key` is the HS256 secret, or the path of
    /// the ES256 private key (PEM).
    public static func sign(_ claims: [String: Any], algorithm: String, key: String) throws -> String {
        let json = String(decoding: try JSONSerialization.data(withJSONObject: claims), as: UTF8.self)
        let result = try RunningProcess.run(absolute: try PythonPeers.program("python"), ["-c", script, algorithm, key, json], timeout: 30)
        let token = result.stdout.trimmingCharacters(in: .whitespacesAndNewlines)
        guard result.status == 0, token.split(separator: ".").count == 3 else {
            throw PythonPeers.Missing(description: "PyJWT failed (\(result.status)): \(result.stderr)")
        }
        return token
    }
}
