/// How long the pool's monitor sleeps between looks while there is work.
///
/// Each look is a wake-up, and on a busy core a context switch away from the I/O thread: at
/// 1,000 looks a second that was 4–5% of a small call's server CPU (`pyrpc-bench --versus`).
/// So looks are `shortest` apart only while something has waited at least half of that (a
/// loop without a leader, a queue that does not move): it may be stuck, and is seen within
/// its delay as before. While everything keeps moving, the pause doubles up to `longest`: a
/// call that blocks under steady traffic is then seen at most `longest` after it began,
/// instead of at most `shortest`. A call's deadline is never overslept.
struct TickPace {
    static let shortest = PythonWorkerPool.stallDelaySeconds
    /// One scheduler tick at 250 Hz: a look on a busy core waits about that long anyway.
    static let longest = 0.004

    private(set) var pause = shortest

    /// The sleep before the next look. `oldestWait`: how long the oldest thing being watched
    /// has waited for attention (0: nothing waits); `untilDeadline`: seconds until the next
    /// running call's interrupt is due (nil: none).
    mutating func next(oldestWait: Double, untilDeadline: Double?) -> Double {
        pause = oldestWait >= Self.shortest / 2 ? Self.shortest : min(pause * 2, Self.longest)
        guard let untilDeadline else { return pause }
        return max(0, min(pause, untilDeadline))
    }

    /// Work starts after an idle sleep: the first looks are `shortest` apart, as a call that
    /// blocks right away should be seen as soon as before.
    mutating func restart() {
        pause = Self.shortest
    }
}
