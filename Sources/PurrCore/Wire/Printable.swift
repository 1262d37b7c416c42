extension String {
    /// Keeps what a peer sent to one short printable line before it goes into an error or a log.
    public var printableLine: String {
        // C0, DEL and C1 controls: a terminal acts on all of them.
        let cleaned = String(unicodeScalars.map { $0.value < 32 || (127...159).contains($0.value) ? "?" : Character($0) })
        return cleaned.count > 80 ? String(cleaned.prefix(80)) + "…" : cleaned
    }
}
