/// Tells when connections have had no traffic for the idle timeout, without a timer or a
/// clock read per connection.
///
/// A sweep every quarter of the timeout advances an epoch; connections note the epoch of
/// their last traffic, and one whose epoch is more than four sweeps old is idle: it closes
/// between 1 and 1.25 timeouts after it went quiet.
struct IdleClock {
    private(set) var epoch: UInt64 = 0
    static let sweepsPerTimeout: UInt64 = 4
    private let interval: Duration
    private var nextSweep: ContinuousClock.Instant

    init(timeout: Double) {
        interval = .nanoseconds(Int64(max(timeout, 0.01) * 1e9) / Int64(Self.sweepsPerTimeout))
        nextSweep = .now + interval
    }

    /// Advances the epoch if a sweep is due at `now`; true if so.
    mutating func tick(now: ContinuousClock.Instant) -> Bool {
        guard now >= nextSweep else { return false }
        epoch &+= 1
        nextSweep = now + interval
        return true
    }

    func isIdle(since lastActivity: UInt64) -> Bool {
        epoch &- lastActivity > Self.sweepsPerTimeout
    }

    /// Milliseconds until the next sweep (for `epoll_wait`), at least 1.
    func millisecondsUntilSweep(now: ContinuousClock.Instant) -> Int32 {
        let left = now.duration(to: nextSweep).components
        let milliseconds = left.seconds * 1000 + left.attoseconds / 1_000_000_000_000_000 + 1
        return Int32(clamping: max(1, milliseconds))
    }
}
