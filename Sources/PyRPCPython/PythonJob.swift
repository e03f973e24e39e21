import Synchronization

/// A unit of Python work for `PythonWorkerPool`. Subclasses override `run`, `expire` and
/// `finish`; a call in the server is one object from the moment it is read until it is
/// answered, rather than a job plus closures plus a ticket, each allocated and reference
/// counted as it moves through the pool's queue and its table of running jobs.
///
/// Answering is decided exactly once: the job's `run` when the call returns, or the pool's
/// `expire` when the deadline passed first. Whoever `claim()`s first answers; the other stays
/// silent.
open class PythonJob: @unchecked Sendable {
    /// When the job must be answered by; nil for no limit.
    public let deadline: Moment?
    private let claimed = Atomic<Bool>(false)
    /// Started running with the GIL, or withdrawn unstarted (`withdraw`): whichever first.
    private let begun = Atomic<Bool>(false)
    /// The pool's monitor raised RPCTimeout in the thread running it (read and written with
    /// the GIL held): that thread then drops whatever of it is left pending when the job ends,
    /// which the other calls need not pay for.
    @exclusivity(unchecked) final var interruptRaised = false
    /// Queued with `submit(force: true)` (read and written under the pool's lock): it does
    /// not count against the pool's `maxPending`.
    @exclusivity(unchecked) final var queuedByForce = false

    public init(deadline: Moment?) {
        self.deadline = deadline
    }

    /// Runs on a thread holding the GIL. It should `claim()` the job before answering.
    open func run(_ gil: borrowing GIL) {}

    /// Called (off the GIL) when the deadline passes first; the job is already claimed.
    open func expire() {}

    /// Called exactly once when the job leaves the pool, whether it ran or expired.
    open func finish() {}

    /// What the job is, for the log (`demo.spin() by c1@127.0.0.1`).
    open var label: String { "a job" }

    /// True for the first caller only.
    public final func claim() -> Bool {
        !claimed.exchange(true, ordering: .acquiringAndReleasing)
    }

    public final var isClaimed: Bool { claimed.load(ordering: .acquiring) }

    /// The pool, holding the GIL, is about to run the job: false if it was withdrawn.
    final func begin() -> Bool {
        !begun.exchange(true, ordering: .acquiringAndReleasing)
    }

    /// Takes back a job that a thread took but has not begun (it waits for the GIL): true if
    /// it will never run.
    public final func withdraw() -> Bool {
        !begun.exchange(true, ordering: .acquiringAndReleasing)
    }
}

/// A job made of closures, for work that is not a call (loading scripts, admin, tests).
public final class ClosureJob: PythonJob, @unchecked Sendable {
    private let work: @Sendable (borrowing GIL) -> Void
    private let expired: @Sendable () -> Void
    private let finished: @Sendable () -> Void

    public init(
        deadline: Moment?, work: @escaping @Sendable (borrowing GIL) -> Void,
        expired: @escaping @Sendable () -> Void = {}, finished: @escaping @Sendable () -> Void = {}
    ) {
        self.work = work
        self.expired = expired
        self.finished = finished
        super.init(deadline: deadline)
    }

    public override func run(_ gil: borrowing GIL) { work(gil) }
    public override func expire() { expired() }
    public override func finish() { finished() }
}
