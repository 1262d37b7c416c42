import Foundation

/// epoll cannot watch regular files or /dev/null, which is what standard input and output are when
/// redirected (`purr stdio URL < file > out`). Such a descriptor is bridged through a pipe that a
/// thread fills or drains; pipes, sockets and terminals are used as they are.
enum PollableDescriptor {
    static func isPollable(_ fd: CInt) -> Bool {
        var info = stat()
        guard fstat(fd, &info) == 0 else { return false }
        switch info.st_mode & S_IFMT {
        case S_IFIFO, S_IFSOCK: return true
        case S_IFCHR: return isatty(fd) == 1
        default: return false
        }
    }

    /// A descriptor to read `fd`'s bytes from.
    static func input(_ fd: CInt) -> CInt {
        if isPollable(fd) { return dup(fd) }
        var ends: [CInt] = [0, 0]
        guard pipe(&ends) == 0 else { return dup(fd) }
        let (readEnd, writeEnd) = (ends[0], ends[1])
        let source = dup(fd)
        Thread {
            copy(from: source, to: writeEnd)
            close(source)
            close(writeEnd)
        }.start()
        return readEnd
    }

    /// A descriptor to write `fd`'s bytes to, and a wait that returns once they have all reached `fd`.
    static func output(_ fd: CInt) -> (fd: CInt, drained: @Sendable () -> Void) {
        if isPollable(fd) { return (dup(fd), {}) }
        var ends: [CInt] = [0, 0]
        guard pipe(&ends) == 0 else { return (dup(fd), {}) }
        let (readEnd, writeEnd) = (ends[0], ends[1])
        let sink = dup(fd)
        let done = DispatchSemaphore(value: 0)
        Thread {
            copy(from: readEnd, to: sink)
            close(readEnd)
            close(sink)
            done.signal()
        }.start()
        return (writeEnd, { done.wait() })
    }

    /// Blocking copy until end of input or a write error.
    private static func copy(from source: CInt, to destination: CInt) {
        var buffer = [UInt8](repeating: 0, count: 64 * 1024)
        while true {
            let count = buffer.withUnsafeMutableBytes { read(source, $0.baseAddress, $0.count) }
            if count < 0 && errno == EINTR { continue }
            guard count > 0 else { return }
            var offset = 0
            while offset < count {
                let written = buffer.withUnsafeBytes { write(destination, $0.baseAddress! + offset, count - offset) }
                if written < 0 && errno == EINTR { continue }
                guard written > 0 else { return }
                offset += written
            }
        }
    }
}
