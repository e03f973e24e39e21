import Synchronization

/// Decides, exactly once, who answers a call: the worker that finished it or the watchdog
/// that timed it out. Whoever `claim()`s first answers; the other stays silent.
public final class JobTicket: Sendable {
    private let claimed = Atomic<Bool>(false)

    public init() {}

    /// True for the first caller only.
    public func claim() -> Bool {
        !claimed.exchange(true, ordering: .acquiringAndReleasing)
    }

    public var isClaimed: Bool { claimed.load(ordering: .acquiring) }
}

/// A unit of Python work for `PythonWorkerPool`. A class: the pool moves each job through
/// its queue and its table of running jobs, and a struct of four closures cost eight
/// reference-count operations per move.
public final class PythonJob: Sendable {
    /// When the job must be answered by (`ContinuousClock` instant); nil for no limit.
    public let deadline: ContinuousClock.Instant?
    public let ticket: JobTicket
    /// Runs on a worker holding the GIL. It should `claim()` the ticket before answering.
    public let work: @Sendable (borrowing GIL) -> Void
    /// Called (off the GIL) when the deadline passes first; the ticket is already claimed.
    public let expired: @Sendable () -> Void
    /// Called exactly once when the job leaves the pool, whether it ran or expired in the queue.
    public let finished: @Sendable () -> Void

    public init(
        deadline: ContinuousClock.Instant?, ticket: JobTicket = JobTicket(),
        work: @escaping @Sendable (borrowing GIL) -> Void, expired: @escaping @Sendable () -> Void = {},
        finished: @escaping @Sendable () -> Void = {}
    ) {
        self.finished = finished
        self.deadline = deadline
        self.ticket = ticket
        self.work = work
        self.expired = expired
    }
}
