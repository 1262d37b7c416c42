/// Where each pane goes at a given terminal size: the renderer draws into these rectangles and the
/// mouse is mapped back through them. Panes that do not fit are nil.
public struct ScreenLayout: Sendable, Equatable {
    public var tunnels: Rect
    public var connections: Rect
    public var servers: Rect
    public var graph: Rect?
    public var events: Rect?

    public static func compute(width: Int, height: Int, tunnelCount: Int) -> ScreenLayout {
        let tableHeight = ScreenRenderer.tableHeight(height: height, tunnelCount: tunnelCount)
        let tunnels = Rect(x: 0, y: 1, width: width, height: tableHeight)
        let top = 1 + tableHeight
        let rest = height - 1 - top
        let half = width / 2
        if rest >= 18 {
            // Three bands: connections (full width), graph | servers, events (full width).
            let connections = max(5, rest * 3 / 10)
            let events = max(5, rest * 3 / 10)
            let middle = rest - connections - events
            let graphWidth = width - half
            return ScreenLayout(
                tunnels: tunnels,
                connections: Rect(x: 0, y: top, width: width, height: connections),
                servers: Rect(x: graphWidth, y: top + connections, width: width - graphWidth, height: middle),
                graph: Rect(x: 0, y: top + connections, width: graphWidth, height: middle),
                events: Rect(x: 0, y: top + connections + middle, width: width, height: events))
        }
        if rest >= 10 {
            // Two bands: connections (full width), events | servers.
            let connections = rest / 2
            return ScreenLayout(
                tunnels: tunnels,
                connections: Rect(x: 0, y: top, width: width, height: connections),
                servers: Rect(x: half, y: top + connections, width: width - half, height: rest - connections),
                graph: nil,
                events: Rect(x: 0, y: top + connections, width: half, height: rest - connections))
        }
        return ScreenLayout(
            tunnels: tunnels,
            connections: Rect(x: 0, y: top, width: half, height: rest),
            servers: Rect(x: half, y: top, width: width - half, height: rest),
            graph: nil, events: nil)
    }

    /// The pane under a screen position, if any.
    public func pane(at x: Int, _ y: Int) -> TUIModel.Pane? {
        if tunnels.contains(x, y) { return .tunnels }
        if connections.contains(x, y) { return .connections }
        if servers.contains(x, y) { return .servers }
        if let events, events.contains(x, y) { return .events }
        return nil
    }
}

extension Rect {
    public func contains(_ px: Int, _ py: Int) -> Bool {
        px >= x && px < x + width && py >= y && py < y + height
    }
}
