extension TunnelSnapshot {
    /// The state word to print for this tunnel: a reverse tunnel that is open says `exposed`,
    /// `registering` or `refused` (`ReverseSnapshot.stateWord`) instead of `listening`; any other
    /// tunnel, or a reverse one closed or failed, its `TunnelState`.
    public var stateWord: String {
        if state == .listening, let reverse { return reverse.stateWord }
        return state.description
    }
}
