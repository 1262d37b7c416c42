import Crypto
import Foundation
import Synchronization

#if canImport(Glibc)
    import Glibc
#endif

/// `soak`: connections opened and closed at a steady rate for minutes, through `purr up` (one client
/// process, three tunnels) and `purr-server`, with a mix of bulk transfers, short echoes, slow
/// readers, a route whose target is down, a refused token and abrupt resets. RSS and open file
/// descriptors of both processes are sampled every few seconds; after the warm-up both should stay
/// flat, and every echoed byte must come back (count and SHA-256).
enum SoakWorkload {
    enum Kind: String, CaseIterable, Sendable {
        case bulk
        case echo
        case slowReader = "slow_reader"
        case failingRoute = "failing_route"
        case refusedToken = "refused_token"
        case reset
    }

    /// One line of the mix per slot: bulk and short echoes most, the rest now and then.
    static let mix: [Kind] = [.bulk, .echo, .echo, .slowReader, .bulk, .echo, .failingRoute, .echo, .refusedToken, .reset]

    struct Sample: Sendable {
        var seconds: Double
        var serverRSS: Int
        var clientRSS: Int
        var serverFDs: Int
        var clientFDs: Int
    }

    struct Tally: Sendable {
        var done: [Kind: Int] = [:]
        var unexpected: [String] = []
        var bytesSent = 0
        var bytesBack = 0
        var shaMismatches = 0
        var late = 0
    }

    static func run(_ context: BenchContext, echo: EchoServer) throws -> [Row] {
        let plan = context.plan
        let setup = try SoakSetup(binDir: context.binDir, echoPort: echo.port)
        defer { setup.stop() }
        let tally = Mutex(Tally())
        let inFlight = DispatchSemaphore(value: plan.soakConcurrency)
        let running = DispatchGroup()
        let start = Clock.seconds()
        let end = start + plan.soakMinutes * 60
        var samples: [Sample] = []
        var nextSample = start
        var slot = 0
        let interval = 1 / plan.soakRate
        var nextOp = start
        while Clock.seconds() < end {
            let now = Clock.seconds()
            if now >= nextSample {
                samples.append(setup.sample(at: now - start))
                nextSample += plan.soakSampleSeconds
                if samples.count % 12 == 0 { progress(samples.last!, tally: tally.withLock { $0 }) }
            }
            if now < nextOp {
                Clock.sleep(min(nextOp, nextSample) - now)
                continue
            }
            nextOp += interval
            let kind = mix[slot % mix.count]
            let seed = UInt64(slot) &* 0x9E37_79B9_7F4A_7C15 | 1
            slot += 1
            if inFlight.wait(timeout: .now()) == .timedOut {
                tally.withLock { $0.late += 1 }
                inFlight.wait()
            }
            running.enter()
            Threads.detach("soak-\(kind.rawValue)") {
                defer {
                    inFlight.signal()
                    running.leave()
                }
                let outcome = Result { try perform(kind, setup: setup, seed: seed, plan: plan) }
                tally.withLock { tally in
                    switch outcome {
                    case .success(let transfer):
                        tally.done[kind, default: 0] += 1
                        tally.bytesSent += transfer.sent
                        tally.bytesBack += transfer.back
                        if !transfer.shaMatches { tally.shaMismatches += 1 }
                    case .failure(let error):
                        if tally.unexpected.count < 20 { tally.unexpected.append("\(kind.rawValue): \(error)") }
                        tally.done[kind, default: 0] += 1
                    }
                }
            }
        }
        running.wait()
        samples.append(setup.sample(at: Clock.seconds() - start))
        return report(samples: samples, tally: tally.withLock { $0 }, plan: plan)
    }

    static func progress(_ sample: Sample, tally: Tally) {
        let mib = Double(Plan.mebibyte)
        let line = String(
            format: "soak %4.0f s: server %.1f MiB %d fds, client %.1f MiB %d fds, %d ops, %d unexpected\n", sample.seconds,
            Double(sample.serverRSS) / mib, sample.serverFDs, Double(sample.clientRSS) / mib, sample.clientFDs,
            tally.done.values.reduce(0, +), tally.unexpected.count)
        FileHandle.standardError.write(Data(line.utf8))
    }

    // MARK: One connection of each kind

    struct Transfer {
        var sent = 0
        var back = 0
        var shaMatches = true
    }

    static func perform(_ kind: Kind, setup: SoakSetup, seed: UInt64, plan: Plan) throws -> Transfer {
        switch kind {
        case .bulk: return try echoRoundTrip(port: setup.okPort, bytes: plan.soakBulkBytes, seed: seed, readDelay: 0)
        case .echo: return try echoRoundTrip(port: setup.okPort, bytes: 4096, seed: seed, readDelay: 0)
        case .slowReader: return try echoRoundTrip(port: setup.okPort, bytes: 256 << 10, seed: seed, readDelay: 0.1)
        case .failingRoute: return try expectRefusal(port: setup.failingPort)
        case .refusedToken: return try expectRefusal(port: setup.refusedPort)
        case .reset: return try resetMidway(port: setup.okPort, seed: seed)
        }
    }

    /// Sends `bytes` while reading the echo back (in 16 KiB reads `readDelay` apart); checks count and SHA-256.
    static func echoRoundTrip(port: Int, bytes: Int, seed: UInt64, readDelay: Double) throws -> Transfer {
        let socket = try Socket.connect(port: port, timeout: 30)
        defer { socket.close() }
        let payload = pseudoRandom(count: bytes, seed: seed)
        let expected = SHA256.hash(data: payload)
        let sendFailure = Mutex<String?>(nil)
        let sent = DispatchSemaphore(value: 0)
        Threads.detach("soak-send") {
            do {
                try payload.withUnsafeBytes { raw in try socket.sendAll(raw) }
                socket.shutdownWrite()
            } catch {
                sendFailure.withLock { $0 = "\(error)" }
            }
            sent.signal()
        }
        var hasher = SHA256()
        var received = 0
        let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: readDelay > 0 ? 16 << 10 : 256 << 10, alignment: 16)
        defer { buffer.deallocate() }
        var readError: (any Error)?
        do {
            while true {
                let count = try socket.receive(into: buffer)
                if count == 0 { break }
                hasher.update(bufferPointer: UnsafeRawBufferPointer(rebasing: buffer[..<count]))
                received += count
                if readDelay > 0 { Clock.sleep(readDelay) }
            }
        } catch {
            readError = error
        }
        sent.wait()
        if let failure = sendFailure.withLock({ $0 }) { throw BenchError("send: \(failure)") }
        if let readError { throw readError }
        guard received == bytes else { throw BenchError("echo: \(received) of \(bytes) bytes came back") }
        return Transfer(sent: bytes, back: received, shaMatches: hasher.finalize() == expected)
    }

    /// A tunnel whose server answers 502 or 401: the client closes the local connection, no data.
    static func expectRefusal(port: Int) throws -> Transfer {
        let socket = try Socket.connect(port: port, timeout: 30)
        defer { socket.close() }
        var byte: UInt8 = 0
        let count = withUnsafeMutableBytes(of: &byte) { Glibc.recv(socket.fd, $0.baseAddress, 1, 0) }
        // 0 (closed) or -1 with ECONNRESET are both a refusal; a byte is not.
        guard count <= 0, count == 0 || errno == ECONNRESET else {
            throw BenchError(count > 0 ? "refused tunnel sent data" : "refused tunnel: \(String(cString: strerror(errno)))")
        }
        return Transfer()
    }

    /// Sends 64 KiB, reads a little of the echo, then resets the connection (SO_LINGER 0).
    static func resetMidway(port: Int, seed: UInt64) throws -> Transfer {
        let socket = try Socket.connect(port: port, timeout: 30)
        let payload = pseudoRandom(count: 64 << 10, seed: seed)
        try payload.withUnsafeBytes { raw in try socket.sendAll(raw) }
        var first = [UInt8](repeating: 0, count: 1024)
        _ = try first.withUnsafeMutableBytes { raw in try socket.receive(into: raw) }
        var linger = Glibc.linger(l_onoff: 1, l_linger: 0)
        _ = setsockopt(socket.fd, SOL_SOCKET, SO_LINGER, &linger, socklen_t(MemoryLayout<Glibc.linger>.size))
        socket.close()
        return Transfer()
    }

    static func pseudoRandom(count: Int, seed: UInt64) -> [UInt8] {
        var state = seed == 0 ? 1 : seed
        var bytes = [UInt8](repeating: 0, count: count)
        bytes.withUnsafeMutableBytes { raw in
            let words = raw.bindMemory(to: UInt64.self)
            for index in 0..<words.count {
                state ^= state << 13
                state ^= state >> 7
                state ^= state << 17
                words[index] = state
            }
        }
        return bytes
    }

    // MARK: Report

    static func report(samples: [Sample], tally: Tally, plan: Plan) -> [Row] {
        let warmUp = min(60, plan.soakMinutes * 60 / 3)
        let steady = samples.filter { $0.seconds >= warmUp }
        func growth(_ value: (Sample) -> Int) -> Double? {
            guard steady.count >= 6 else { return nil }
            // Means of the first and last three samples after the warm-up, so one sample's noise does not decide.
            let first = Double(steady.prefix(3).map(value).reduce(0, +)) / 3
            let last = Double(steady.suffix(3).map(value).reduce(0, +)) / 3
            return first > 0 ? (last - first) / first * 100 : nil
        }
        let mib = Double(Plan.mebibyte)
        let minutes = String(format: "%g min", plan.soakMinutes)
        let ops = tally.done.values.reduce(0, +)
        let mixNote = Kind.allCases.map { "\($0.rawValue) \(tally.done[$0, default: 0])" }.joined(separator: ", ")
        var rows = [
            Row(
                "soak", "connections (\(minutes), \(String(format: "%g", plan.soakRate))/s)", unit: "count", direct: nil,
                tunnel: Double(ops), note: mixNote + (tally.late > 0 ? "; \(tally.late) started late (all workers busy)" : "")),
            Row(
                "soak", "unexpected outcomes", unit: "count", direct: nil, tunnel: Double(tally.unexpected.count), target: "0",
                note: tally.unexpected.isEmpty ? nil : tally.unexpected.prefix(5).joined(separator: " | ")),
            Row(
                "soak", "echoed bytes lost or wrong", unit: "bytes", direct: nil,
                tunnel: Double(tally.bytesSent - tally.bytesBack + tally.shaMismatches), target: "0",
                note: "\(tally.bytesBack) of \(tally.bytesSent) bytes back, \(tally.shaMismatches) SHA-256 mismatches"),
        ]
        let series: [(String, (Sample) -> Int, Double, String)] = [
            ("server RSS", { $0.serverRSS }, mib, "MiB"), ("client RSS", { $0.clientRSS }, mib, "MiB"),
            ("server open fds", { $0.serverFDs }, 1, "fds"), ("client open fds", { $0.clientFDs }, 1, "fds"),
        ]
        for (name, value, scale, unit) in series {
            let after = steady.first.map { Double(value($0)) / scale }
            let final = steady.last.map { Double(value($0)) / scale }
            let peak = samples.map(value).max().map { Double($0) / scale }
            let note = String(
                format: "after warm-up %.1f, end %.1f, peak %.1f %@", after ?? 0, final ?? 0, peak ?? 0, unit)
            rows.append(
                Row("soak", "\(name) growth after warm-up", unit: "%", direct: nil, tunnel: growth(value), target: "< 5 %", note: note))
        }
        return rows
    }
}
