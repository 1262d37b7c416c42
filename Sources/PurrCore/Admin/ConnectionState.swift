/// Where one server-side connection is in its life.
public enum ConnectionState: String, Sendable, Codable {
    case readingHead = "reading_head"
    case connecting
    case relaying
    case closed
    case failed
}
