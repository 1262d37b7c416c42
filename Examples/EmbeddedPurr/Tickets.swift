import Foundation
import Synchronization

/// One-time tickets: the application's own session state, which the Purr closure consults.
final class Tickets: Sendable {
    private let issued = Mutex<[String: String]>([:])

    /// A new ticket for one tunnel to `machine`.
    func issue(for machine: String) -> String {
        let ticket = UUID().uuidString
        issued.withLock { $0[ticket] = machine }
        return ticket
    }

    /// Whether `ticket` was issued for `machine`; a ticket works once.
    func redeem(_ ticket: String, for machine: String) -> Bool {
        issued.withLock { tickets in
            guard tickets[ticket] == machine else { return false }
            tickets[ticket] = nil
            return true
        }
    }
}
