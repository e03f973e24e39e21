#if canImport(Glibc)
import Glibc
#endif

/// A point on the monotonic clock, in nanoseconds: what the per-call paths (call deadlines
/// and durations, the I/O loop's turns, message and leadership timers) use instead of
/// `ContinuousClock.Instant`.
///
/// That type comes from a module built for library evolution, so this one cannot see its
/// layout: every copy, comparison and optional of it goes through value witnesses and
/// metadata lookups, and its arithmetic is on 128-bit attoseconds. In a profile of one-shot
/// calls that bookkeeping, not the clock reads, was most of the 10% of the server's user CPU
/// spent on time.
@frozen
public struct Moment: Comparable, Sendable {
    public let nanoseconds: UInt64

    @inlinable
    public init(nanoseconds: UInt64) {
        self.nanoseconds = nanoseconds
    }

    /// (Not inlinable: `timespec` reaches this module through the CPython headers, which the
    /// modules calling it need not import. A call across modules costs nanoseconds.)
    public static var now: Moment {
        var time = timespec()
        clock_gettime(CLOCK_MONOTONIC, &time)
        return Moment(nanoseconds: UInt64(time.tv_sec) &* 1_000_000_000 &+ UInt64(time.tv_nsec))
    }

    /// `seconds` later (negative: earlier), saturating: a limit of 1e9 s is simply never.
    @inlinable
    public func advanced(bySeconds seconds: Double) -> Moment {
        let delta = seconds * 1e9
        if delta >= 0 {
            let step = delta < 1.8e19 ? UInt64(delta) : .max
            let (sum, overflow) = nanoseconds.addingReportingOverflow(step)
            return Moment(nanoseconds: overflow ? .max : sum)
        }
        let step = -delta < 1.8e19 ? UInt64(-delta) : .max
        return Moment(nanoseconds: nanoseconds > step ? nanoseconds - step : 0)
    }

    /// Seconds from `earlier` to this moment (negative if `earlier` is later).
    @inlinable
    public func seconds(since earlier: Moment) -> Double {
        nanoseconds >= earlier.nanoseconds
            ? Double(nanoseconds - earlier.nanoseconds) / 1e9
            : -Double(earlier.nanoseconds - nanoseconds) / 1e9
    }

    /// Seconds since this moment, by the clock now.
    @inlinable
    public var secondsAgo: Double { Moment.now.seconds(since: self) }

    /// Whole milliseconds from now until this moment, rounded up (0 if it has passed).
    @inlinable
    public func millisecondsFrom(_ now: Moment) -> Int64 {
        guard nanoseconds > now.nanoseconds else { return 0 }
        return Int64(clamping: (nanoseconds - now.nanoseconds + 999_999) / 1_000_000)
    }

    @inlinable
    public static func < (lhs: Moment, rhs: Moment) -> Bool { lhs.nanoseconds < rhs.nanoseconds }

    /// For deadlines written as `Moment.now + .milliseconds(200)` (never a hot path).
    @inlinable
    public static func + (lhs: Moment, rhs: Duration) -> Moment {
        let parts = rhs.components
        return lhs.advanced(bySeconds: Double(parts.seconds) + Double(parts.attoseconds) / 1e18)
    }
}
