import Foundation

/// Reads a process's memory and CPU time from `/proc`.
enum ProcStatus {
    /// `VmRSS` in bytes, 0 if unreadable.
    static func rss(pid: Int32) -> Int {
        guard let text = try? String(contentsOfFile: "/proc/\(pid)/status", encoding: .utf8) else { return 0 }
        for line in text.split(separator: "\n") where line.hasPrefix("VmRSS:") {
            let kib = line.split(separator: " ").compactMap { Int($0) }.first ?? 0
            return kib * 1024
        }
        return 0
    }

    /// User + system CPU seconds (fields 14 and 15 of `/proc/PID/stat`, after the command name).
    static func cpuSeconds(pid: Int32) -> Double {
        let times = cpuTimes(pid: pid)
        return times.user + times.system
    }

    /// User and system CPU seconds apart.
    static func cpuTimes(pid: Int32) -> (user: Double, system: Double) {
        guard let text = try? String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8),
            let close = text.lastIndex(of: ")")
        else { return (0, 0) }
        let fields = text[text.index(after: close)...].split(separator: " ")
        guard fields.count > 13, let user = Double(fields[11]), let system = Double(fields[12]) else { return (0, 0) }
        let tick = Double(sysconf(Int32(_SC_CLK_TCK)))
        return (user / tick, system / tick)
    }

    /// The process's children (nginx's workers), from `/proc/PID/task/PID/children`.
    static func children(pid: Int32) -> [Int32] {
        guard let text = try? String(contentsOfFile: "/proc/\(pid)/task/\(pid)/children", encoding: .utf8) else { return [] }
        return text.split(separator: " ").compactMap { Int32($0.trimmingCharacters(in: .whitespacesAndNewlines)) }
    }
}
