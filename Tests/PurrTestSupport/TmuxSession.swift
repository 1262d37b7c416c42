import Foundation

/// A program running in a private tmux server, read with capture-pane and driven with send-keys.
public final class TmuxSession: @unchecked Sendable {
    public let socket = "purr-test-\(UUID().uuidString.prefix(8))"
    public let name = "tui"

    /// Starts `command` (a shell command line) in a `width`×`height` window. The pane stays when the program
    /// ends, with its last output and "Pane is dead (status N)": a program that failed at start (a demo that
    /// could not start once in a full run) used to take the tmux server with it, and the failures showed an
    /// empty screen.
    public init(command: String, width: Int, height: Int, environment: [String: String] = [:]) throws {
        let exports = environment.map { "export \($0.key)='\($0.value)';" }.joined(separator: " ")
        try tmux([
            "start-server", ";", "set-option", "-g", "remain-on-exit", "on", ";",
            "new-session", "-d", "-s", name, "-x", "\(width)", "-y", "\(height)", "\(exports) \(command)",
        ])
        serverProcess = (try? serverPID()) ?? -1
    }

    /// The tmux server, killed outright if `kill-server` leaves it running (seen in full runs: a server
    /// with every signal blocked and its pane a zombie it never reaped).
    private var serverProcess: Int32 = -1

    deinit { stop() }

    /// Runs the tmux client with posix_spawn and waitpid (Foundation's Process loses track of the
    /// tmux client once it has forked its server); output goes through a file.
    @discardableResult
    func tmux(_ arguments: [String]) throws -> String {
        let outputPath = FileManager.default.temporaryDirectory.appendingPathComponent("tmux-\(UUID().uuidString)").path
        defer { unlink(outputPath) }
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0)
        posix_spawn_file_actions_addopen(&actions, 1, outputPath, O_WRONLY | O_CREAT | O_TRUNC, 0o600)
        posix_spawn_file_actions_adddup2(&actions, 1, 2)
        let argv = ["tmux", "-L", socket, "-f", "/dev/null"] + arguments
        var cArguments = argv.map { strdup($0) } + [nil]
        defer { for pointer in cArguments { free(pointer) } }
        var pid: pid_t = 0
        // The test process blocks SIGHUP, SIGINT, SIGTERM... (for its signal watchers), and a child inherits
        // its mask: tmux's server and the pane's programs then never got the SIGHUP of kill-server, so a killed
        // server waited for them for good (a pane's `sleep 30`, a dead pane kept by remain-on-exit).
        var attributes = posix_spawnattr_t()
        posix_spawnattr_init(&attributes)
        defer { posix_spawnattr_destroy(&attributes) }
        var none = sigset_t()
        sigemptyset(&none)
        posix_spawnattr_setsigmask(&attributes, &none)
        var defaults = sigset_t()
        sigemptyset(&defaults)
        for signal in [SIGHUP, SIGINT, SIGQUIT, SIGTERM, SIGPIPE, SIGCHLD] { sigaddset(&defaults, signal) }
        posix_spawnattr_setsigdefault(&attributes, &defaults)
        posix_spawnattr_setflags(&attributes, Int16(POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF))
        let spawned = posix_spawnp(&pid, "tmux", &actions, &attributes, &cArguments, environ)
        guard spawned == 0 else { throw BlockingSocket.Failure(description: "cannot run tmux: \(String(cString: strerror(spawned)))") }
        var status: Int32 = 0
        let finished = TestKit.poll(timeout: 10) { waitpid(pid, &status, WNOHANG) == pid }
        guard finished else {
            kill(pid, SIGKILL)
            _ = waitpid(pid, &status, 0)
            throw BlockingSocket.Failure(description: "tmux \(arguments.first ?? "") did not finish")
        }
        let text = (try? String(contentsOfFile: outputPath, encoding: .utf8)) ?? ""
        // WIFEXITED and WEXITSTATUS by hand (they are macros).
        guard status & 0x7f == 0, (status >> 8) & 0xff == 0 else {
            throw BlockingSocket.Failure(description: "tmux \(arguments.first ?? ""): \(text)")
        }
        return text
    }

    /// The visible screen as text, or why there is none (a failure message then says so).
    public func screen() -> String {
        do {
            let visible = try tmux(["capture-pane", "-p", "-t", name])
            // An ended program's last words scroll up when tmux writes the pane's status: show them too.
            guard visible.contains("Pane is dead") else { return visible }
            return try tmux(["capture-pane", "-p", "-S", "-", "-t", name])
        } catch {
            return "(no screen: \(error))"
        }
    }

    /// Waits (bounded) until the screen contains `text`; returns whether it did.
    @discardableResult
    public func waitFor(_ text: String, timeout: Double = 15) -> Bool {
        TestKit.poll(timeout: timeout) { screen().contains(text) }
    }

    /// Waits (bounded) until `predicate` holds for the screen.
    @discardableResult
    public func waitUntil(timeout: Double = 15, _ predicate: (String) -> Bool) -> Bool {
        TestKit.poll(timeout: timeout) { predicate(screen()) }
    }

    public func send(_ keys: String...) throws {
        try tmux(["send-keys", "-t", name] + keys)
    }

    /// Types `text` as it is (escape sequences included), as a terminal would deliver it.
    public func sendLiteral(_ text: String) throws {
        try tmux(["send-keys", "-t", name, "-l", text])
    }

    /// A left click at a screen cell (0-based), as a terminal in SGR mouse mode reports it.
    public func click(x: Int, y: Int) throws {
        try sendLiteral("\u{1B}[<0;\(x + 1);\(y + 1)M")
        try sendLiteral("\u{1B}[<0;\(x + 1);\(y + 1)m")
    }

    public func resize(width: Int, height: Int) throws {
        try tmux(["resize-window", "-t", name, "-x", "\(width)", "-y", "\(height)"])
    }

    /// The tmux server's process id.
    public func serverPID() throws -> Int32 {
        Int32(try tmux(["display-message", "-p", "-t", name, "#{pid}"]).trimmingCharacters(in: .whitespacesAndNewlines)) ?? -1
    }

    /// The process id of the program running in the pane.
    public func panePID() throws -> Int32 {
        Int32(try tmux(["display-message", "-p", "-t", name, "#{pane_pid}"]).trimmingCharacters(in: .whitespacesAndNewlines)) ?? -1
    }

    public func stop() {
        _ = try? tmux(["kill-server"])
        let pid = serverProcess
        serverProcess = -1
        guard pid > 0 else { return }
        if !TestKit.poll(timeout: 3, { kill(pid, 0) != 0 }) {
            kill(pid, SIGKILL)
            _ = TestKit.poll(timeout: 3) { kill(pid, 0) != 0 }
        }
    }
}
