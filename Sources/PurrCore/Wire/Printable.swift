extension String {
    /// Keeps what a peer sent to one short printable line before it goes into an error or a log.
    public var printableLine: String {
        let cleaned = String(unicodeScalars.map { $0.value < 32 || $0.value == 127 ? "?" : Character($0) })
        return cleaned.count > 80 ? String(cleaned.prefix(80)) + "…" : cleaned
    }
}
