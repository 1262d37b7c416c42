#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// Monotonic time in nanoseconds and seconds, cheap enough to call around every round trip.
enum Clock {
    static func nanos() -> UInt64 {
        var time = timespec()
        clock_gettime(CLOCK_MONOTONIC, &time)
        return UInt64(time.tv_sec) * 1_000_000_000 + UInt64(time.tv_nsec)
    }

    static func seconds() -> Double {
        Double(nanos()) / 1e9
    }

    static func sleep(_ seconds: Double) {
        usleep(UInt32(max(0, seconds) * 1_000_000))
    }
}
