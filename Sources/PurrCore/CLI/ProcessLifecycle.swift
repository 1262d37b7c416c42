import Foundation
import Logging
import ServiceLifecycle
import UnixSignals

/// How every long-running Purr program lives, through swift-service-lifecycle: one `ServiceGroup` traps
/// the stop signals and shuts its services down gracefully, last first: the SIGHUP reload, the caller's
/// services, then `stop` (which drains or closes what `start` started). A second stop signal during
/// the shutdown is ignored, as the first one started all there is to do.
public enum ProcessLifecycle {
    /// The signals that stop a program gracefully.
    public enum StopSignal: Sendable {
        case terminate, interrupt, hangUp

        var unix: UnixSignal {
            switch self {
            case .terminate: .sigterm
            case .interrupt: .sigint
            case .hangUp: .sighup
            }
        }
    }

    /// Turns off the default action of `signals` (ending the process) until the group traps them: SIGHUP,
    /// whose delivery while a program starts must not end it; the TUI's signals, which ncurses would
    /// otherwise take over when the screen starts.
    public static func ignoreUntilTrapped(_ signals: [StopSignal]) {
        for number in signals { signal(number.unix.rawValue, SIG_IGN) }
    }

    /// Runs until a stop signal (or a service ending) and the graceful shutdown after it. `start` runs once
    /// the stop signals are trapped: what it starts and the "listening on" line scripts wait for come after
    /// a signal can stop the program gracefully. `reload`, if given, runs for each SIGHUP. Throws what a
    /// service threw.
    public static func run(
        stopOn signals: [StopSignal] = [.terminate, .interrupt],
        services: [any Service] = [],
        reload: (@Sendable () async -> Void)? = nil,
        logger: Logger = Logger(label: "purr"),
        start: @escaping @Sendable () async -> Void = {},
        stop: @escaping @Sendable () async -> Void = {}
    ) async throws {
        // When one of these ends by itself (the TUI's user quit), everything else stops too.
        var configured = [
            ServiceGroupConfiguration.ServiceConfiguration(
                service: ShutdownService(start: start, stop: stop), successTerminationBehavior: .gracefullyShutdownGroup)
        ]
        for service in services {
            configured.append(.init(service: service, successTerminationBehavior: .gracefullyShutdownGroup))
        }
        if let reload {
            let hangUps = await UnixSignalsSequence(trapping: .sighup)
            configured.append(.init(service: ReloadService(hangUps: hangUps, reload: reload)))
        }
        let group = ServiceGroup(
            configuration: ServiceGroupConfiguration(
                services: configured, gracefulShutdownSignals: signals.map(\.unix), logger: logger))
        try await group.run()
    }
}
