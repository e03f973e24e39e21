/// The pool monitor's decisions at each tick, from what it sees under the pool's lock: jobs
/// wait but none was taken for `stallDelaySeconds` (every awake worker is stuck in a blocking call or
/// a long computation) — wake one more worker, at most one per `stallDelaySeconds`; whether to
/// keep ticking (busy, or busy less than `linger` ago: a job running, waiting, or taken since the
/// last look); and how long jobs have waited without the queue moving (for `TickPace`).
struct StallWatch {
    static let lingerSeconds = 0.05
    /// The pool's `takes` at the last tick, and when the queue last moved or was empty.
    private var takesSeen: UInt64 = 0
    private var lastProgress = Moment.now
    private var lastStallWake = Moment.now
    private var lastBusy = Moment.now

    mutating func look(at now: Moment, busy: Bool, waiting: Bool, takes: UInt64, anyParked: Bool) -> (wakeOne: Bool, keepTicking: Bool, waited: Double) {
        // A job taken since the last look counts as busy too: a monitor that only gets the core
        // when the thread running the jobs sleeps (SCHED_BATCH) may never see one running, and
        // would otherwise stop looking and be rung awake by every call.
        let moved = takes != takesSeen
        if busy || moved { lastBusy = now }
        if !waiting || moved {
            takesSeen = takes
            lastProgress = now
        }
        let delay = PythonWorkerPool.stallDelaySeconds
        let wakeOne = waiting && now.seconds(since: lastProgress) >= delay && now.seconds(since: lastStallWake) >= delay && anyParked
        if wakeOne { lastStallWake = now }
        return (wakeOne, busy || now.seconds(since: lastBusy) < Self.lingerSeconds, waiting ? now.seconds(since: lastProgress) : 0)
    }
}
