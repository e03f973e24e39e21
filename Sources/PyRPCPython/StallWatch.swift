/// The pool monitor's decisions at each tick, from what it sees under the pool's lock: jobs
/// wait but none was taken for `stallDelay` (every awake worker is stuck in a blocking call or
/// a long computation) — wake one more worker, at most one per `stallDelay`; and whether to
/// keep ticking (busy, or busy less than `linger` ago).
struct StallWatch {
    static let linger: Duration = .milliseconds(50)
    /// The pool's `takes` at the last tick, and when the queue last moved or was empty.
    private var takesSeen: UInt64 = 0
    private var lastProgress = ContinuousClock.now
    private var lastStallWake = ContinuousClock.now
    private var lastBusy = ContinuousClock.now

    mutating func look(at now: ContinuousClock.Instant, busy: Bool, waiting: Bool, takes: UInt64, anyParked: Bool) -> (wakeOne: Bool, keepTicking: Bool) {
        if busy { lastBusy = now }
        if !waiting || takes != takesSeen {
            takesSeen = takes
            lastProgress = now
        }
        let delay = PythonWorkerPool.stallDelay
        let wakeOne = waiting && now - lastProgress >= delay && now - lastStallWake >= delay && anyParked
        if wakeOne { lastStallWake = now }
        return (wakeOne, busy || now - lastBusy < Self.linger)
    }
}
