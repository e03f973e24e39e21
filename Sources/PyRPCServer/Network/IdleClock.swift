import PyRPCPython

/// Tells when connections have had no traffic for the idle timeout, without a timer or a
/// clock read per connection.
///
/// A sweep every quarter of the timeout advances an epoch; connections note the epoch of
/// their last traffic, and one whose epoch is more than four sweeps old is idle: it closes
/// between 1 and 1.25 timeouts after it went quiet.
struct IdleClock {
    private(set) var epoch: UInt64 = 0
    static let sweepsPerTimeout: UInt64 = 4
    /// Seconds between sweeps.
    private let interval: Double
    private(set) var nextSweep: Moment

    init(timeout: Double) {
        interval = max(timeout, 0.01) / Double(Self.sweepsPerTimeout)
        nextSweep = Moment.now.advanced(bySeconds: interval)
    }

    /// Advances the epoch if a sweep is due at `now`; true if so.
    mutating func tick(now: Moment) -> Bool {
        guard now >= nextSweep else { return false }
        epoch &+= 1
        nextSweep = now.advanced(bySeconds: interval)
        return true
    }

    func isIdle(since lastActivity: UInt64) -> Bool {
        epoch &- lastActivity > Self.sweepsPerTimeout
    }

}
