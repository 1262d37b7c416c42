import Synchronization

/// Which tab owns which tunnel. A tab is the canonical JSON text of the `src` it sent.
final class OwnerTable: Sendable {
    struct Entry: Sendable {
        var tab: String
        var port: Int
        var name: String
    }

    private let table = Mutex<(serial: Int, entries: [Entry])>((0, []))

    func nextSerial() -> Int {
        table.withLock {
            $0.serial += 1
            return $0.serial
        }
    }

    func add(tab: String, port: Int, name: String) {
        table.withLock { $0.entries.append(Entry(tab: tab, port: port, name: name)) }
    }

    func remove(tab: String, port: Int) -> String? {
        table.withLock { state in
            guard let index = state.entries.firstIndex(where: { $0.tab == tab && $0.port == port }) else { return nil }
            return state.entries.remove(at: index).name
        }
    }

    /// Removes every tunnel of a tab (it closed or navigated away).
    func removeAll(tab: String) -> [Entry] {
        table.withLock { state in
            let gone = state.entries.filter { $0.tab == tab }
            state.entries.removeAll { $0.tab == tab }
            return gone
        }
    }

    func entries(of tab: String) -> [Entry] {
        table.withLock { $0.entries.filter { $0.tab == tab } }
    }

    func ports(of tab: String) -> [Int] {
        entries(of: tab).map(\.port)
    }
}
