import NIOCore

extension Channel {
    /// Turns `autoRead` off, on the channel's loop; true when it was on (whoever turns it back on then
    /// owns that). What waits in the socket is read once reading is on again.
    @discardableResult
    public func stopReading() -> Bool {
        guard let options = syncOptions, (try? options.getOption(ChannelOptions.autoRead)) == true else { return false }
        try? options.setOption(ChannelOptions.autoRead, value: false)
        return true
    }
}
