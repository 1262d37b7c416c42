/// The project's version: what `--version` prints on every executable and `/stats` reports as
/// `server.version`. Not the wire version (`PurrWire.version`), which stays what the original speaks.
public enum PurrVersion {
    public static let current = "0.1.0"
}
