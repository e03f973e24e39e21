import CLinux
import CPython
import Foundation
import Logging

/// Dedicated threads that run Python, each with its thread state pinned for its whole life
/// (re-creating one per call costs ~10 µs and loses `threading.local` data).
///
/// Scheduling is built around the GIL. Only one worker is woken for new work and it drains
/// the queue: waking a worker per job made eight threads queue for one GIL, and the context
/// switches cost more than the calls (70% of the server's CPU on `add` at concurrency 8).
/// Calls that block in Python (sleep, I/O) release the GIL; a monitor thread notices a queue
/// that has not moved for `stallDelaySeconds` and wakes another worker, so blocking calls still
/// overlap. The same monitor enforces deadlines by answering the call itself and raising
/// `_pyrpc.RPCTimeout` inside the running thread.
///
/// Other threads may run queued jobs themselves as guests (`drain(as:limit:)`): the server's
/// I/O threads run the calls they read, and the workers only take what blocks or piles up.
///
/// The queue of pending jobs is bounded: `submit` refuses rather than queueing without limit.
public final class PythonWorkerPool: @unchecked Sendable {
    public let name: String
    public let workerCount: Int
    public let maxPending: Int
    /// How long the queue may go without a job being taken, while jobs wait, before the
    /// monitor wakes another worker.
    public static let stallDelaySeconds = 0.001
    /// Called by the monitor at each look (while jobs run or wait, see `TickPace`) with the
    /// time: the owner's own watch, such as handing an I/O loop to another thread. It returns
    /// how long the oldest thing it watches has waited for attention, in seconds (0: nothing
    /// waits), which sets how soon the monitor looks again.
    let onTick: @Sendable (Moment) -> Double

    // Guarded by `condition`; not private, as the monitor (PythonWorkerPool+Monitor.swift)
    // reads and changes it too. What every job touches skips Swift's run-time exclusivity
    // check (`@exclusivity(unchecked)`): the lock already makes each access exclusive, and
    // no access spans a call back into the pool.
    let condition = NSCondition()
    @exclusivity(unchecked) var queue: [PythonJob?] = []
    @exclusivity(unchecked) var queueHead = 0
    /// Queued jobs that were forced in (`submit(force: true)`: loading and unloading scripts,
    /// releasing a retired generation). They take no room from calls: `maxPending` counts
    /// only the rest, so a call is never refused as if calls were waiting because of them.
    @exclusivity(unchecked) private var forcedWaiting = 0
    var stopping = false
    /// A call crashed the process (`abandon`): no job starts any more.
    @exclusivity(unchecked) var dying = false
    var liveWorkers = 0
    /// Workers not parked: running a job or looking for one (including ones being woken).
    @exclusivity(unchecked) private var activeWorkers = 0
    /// Parked workers, most recently parked last (woken first: its cache is warm).
    @exclusivity(unchecked) var parked: [Int] = []
    /// Per worker, then per guest slot: the job running there (for deadlines and interrupts).
    @exclusivity(unchecked) var running: [RunningJob?]
    var threadIdents: [UInt]
    private var freeGuestSlots: [Int]
    /// Threads that are not workers but run queued jobs themselves (`drain(as:limit:)`).
    public static let guestCapacity = 64
    /// Jobs taken so far; the monitor compares it between ticks to see the queue move
    /// (cheaper than reading the clock at every take).
    @exclusivity(unchecked) var takes: UInt64 = 0
    /// Monitor only: when the queue last moved, was busy, or stalled.
    var stalls = StallWatch()
    @exclusivity(unchecked) var monitorTicking = false

    private let wakeups: [DispatchSemaphore]
    /// Rung by `submit` to wake the monitor from its idle sleep.
    let monitorBell = Doorbell()
    private let logger: Logger

    struct RunningJob {
        var job: PythonJob
        var nextInterrupt: Moment?
    }

    public init(name: String, workers: Int, maxPending: Int, logger: Logger = Logger(label: "pyrpc.python"),
                onTick: @escaping @Sendable (Moment) -> Double = { _ in 0 }) {
        _ = PythonRuntime.shared
        self.name = name
        self.workerCount = max(1, workers)
        self.maxPending = max(1, maxPending)
        self.logger = logger
        self.onTick = onTick
        running = Array(repeating: nil, count: self.workerCount + Self.guestCapacity)
        threadIdents = Array(repeating: 0, count: self.workerCount + Self.guestCapacity)
        freeGuestSlots = Array((self.workerCount..<self.workerCount + Self.guestCapacity).reversed())
        wakeups = (0..<self.workerCount).map { _ in DispatchSemaphore(value: 0) }
        liveWorkers = self.workerCount
        activeWorkers = self.workerCount  // each parks itself once started
        for index in 0..<self.workerCount {
            let thread = Thread { [self] in workerMain(index) }
            thread.stackSize = 16 << 20  // deep recursion in scripts should hit RecursionError, not the guard page
            thread.start()
        }
        Thread { [self] in monitorMain() }.start()
    }

    /// Number of jobs waiting for a worker.
    public var pendingCount: Int {
        condition.lock()
        defer { condition.unlock() }
        return dying ? 0 : queue.count - queueHead
    }

    /// Queues a job. Returns false when the queue is full (the caller answers `Server Busy`)
    /// or the pool is stopping. `force` skips the length check, for admin work such as loading,
    /// and the job takes no room from the calls the check counts.
    ///
    /// With `wake: false` no parked worker is woken: the caller queues several jobs and then
    /// runs them itself (`drain(as:limit:)`, as the server's I/O loops do) or calls
    /// `wakeIfIdle()` once, so one thread runs them all instead of a worker being woken to run
    /// the first one alone.
    @discardableResult
    public func submit(_ job: PythonJob, force: Bool = false, wake: Bool = true) -> Bool {
        condition.lock()
        guard !stopping, force || queue.count - queueHead - forcedWaiting < maxPending else {
            condition.unlock()
            return false
        }
        if force {
            job.queuedByForce = true
            forcedWaiting += 1
        }
        queue.append(job)
        let woken = wake && activeWorkers == 0 ? unparkLocked() : nil
        let startMonitor = !monitorTicking
        monitorTicking = true
        condition.unlock()
        signal(woken)
        if startMonitor { wakeMonitor() }
        return true
    }

    /// Wakes a worker if jobs wait and none is awake (see `submit(_:force:wake:)`).
    public func wakeIfIdle() {
        condition.lock()
        let woken = activeWorkers == 0 && queueHead < queue.count ? unparkLocked() : nil
        condition.unlock()
        signal(woken)
    }

    /// The jobs running now, each with how long it has run past its deadline (nil: not past),
    /// for the log when a stop finds calls that would not end.
    public var runningJobs: [(label: String, overdue: Duration?)] {
        condition.lock()
        defer { condition.unlock() }
        let now = Moment.now
        return running.compactMap { $0 }.map { entry in
            (entry.job.label, entry.job.deadline.flatMap { $0 < now ? .nanoseconds(Int64(now.nanoseconds - $0.nanoseconds)) : nil })
        }
    }

    /// A call crashed the process, and its thread holds the GIL for good: no job starts any
    /// more, and the jobs running are returned, each with its thread's ident, for their
    /// answers. (Those queued stay for `takeQueued`.)
    public func abandon() -> [(job: PythonJob, thread: UInt)] {
        condition.lock()
        defer { condition.unlock() }
        dying = true
        return running.indices.compactMap { slot in running[slot].map { ($0.job, threadIdents[slot]) } }
    }

    /// The jobs still queued, taken out (after `abandon`: none of them will run here).
    public func takeQueued() -> [PythonJob] {
        condition.lock()
        defer { condition.unlock() }
        let jobs = queue[queueHead...].compactMap { $0 }
        queue.removeAll()
        queueHead = 0
        forcedWaiting = 0
        return jobs
    }

    /// Stops taking jobs, lets queued and running ones finish for up to `grace`, then returns.
    /// Returns false if some worker was still busy (stuck in C code, say) at the end.
    @discardableResult
    public func shutdown(grace: Duration) -> Bool {
        let deadline = Date().addingTimeInterval(Self.seconds(grace))
        condition.lock()
        stopping = true
        while let index = unparkLocked() { signal(index) }
        while liveWorkers > 0 {
            if !condition.wait(until: deadline) { break }
        }
        let allStopped = liveWorkers == 0
        condition.unlock()
        wakeMonitor()
        return allStopped
    }

    // MARK: Guests

    /// A guest for the calling thread, or nil when all `guestCapacity` slots are taken, or
    /// when a crashed call holds the GIL for good (a guest's thread state needs the GIL).
    public func makeGuest() -> Guest? {
        if pyrpc_crash_underway() != 0 { return nil }
        condition.lock()
        guard let slot = freeGuestSlots.popLast() else {
            condition.unlock()
            return nil
        }
        condition.unlock()
        let guest = Guest(slot: slot)
        condition.lock()
        threadIdents[slot] = guest.ident
        condition.unlock()
        return guest
    }

    /// Releases the guest's thread state and slot (on the guest's own thread).
    public func retire(_ guest: Guest) {
        PyEval_RestoreThread(guest.threadState)
        PyThreadState_Clear(guest.threadState)
        PyThreadState_DeleteCurrent()
        condition.lock()
        threadIdents[guest.slot] = 0
        freeGuestSlots.append(guest.slot)
        condition.unlock()
    }

    /// Runs queued jobs on the calling thread until the queue is empty or `limit` jobs ran.
    /// Returns true if jobs are still queued. Meanwhile the guest counts as an awake worker,
    /// so nobody is woken for the jobs it is about to take; if one of them blocks, the
    /// monitor sees the queue stall and wakes a worker as usual.
    @discardableResult
    public func drain(as guest: Guest, limit: Int) -> Bool {
        condition.lock()
        guard queueHead < queue.count else {
            condition.unlock()
            return false
        }
        activeWorkers += 1
        // One clock read for the batch: the jobs were queued moments ago, in the same turn.
        let now = Moment.now
        var ran = 0
        while ran < limit, let job = takeLocked(runningIn: guest.slot) {
            condition.unlock()
            run(job, slot: guest.slot, threadState: guest.threadState, ident: guest.ident, now: now)
            ran += 1
            condition.lock()
        }
        activeWorkers -= 1
        let more = queueHead < queue.count
        condition.unlock()
        return more
    }

    // MARK: Workers

    /// Marks the most recently parked worker awake and returns it for `signal`. Call with
    /// `condition` held, and signal after unlocking: a worker signalled under the lock ran at
    /// once on a busy core and blocked on that lock, two extra context switches per batch.
    func unparkLocked() -> Int? {
        guard let index = parked.popLast() else { return nil }
        activeWorkers += 1
        return index
    }

    func signal(_ worker: Int?) {
        if let worker { wakeups[worker].signal() }
    }

    /// The next job, marked running in `slot` (one lock for both), or nil when the queue is
    /// empty. Call with `condition` held.
    private func takeLocked(runningIn slot: Int) -> PythonJob? {
        guard queueHead < queue.count, !dying else { return nil }
        // Empty the slot at once: a job holds its request (megabytes, for large arguments).
        let job = queue[queueHead].take()!
        queueHead += 1
        if job.queuedByForce { forcedWaiting -= 1 }
        takes &+= 1
        if queueHead == queue.count {
            queue.removeAll(keepingCapacity: true)
            queueHead = 0
        } else if queueHead >= 64, queueHead * 2 > queue.count {
            queue.removeFirst(queueHead)
            queueHead = 0
        }
        running[slot] = RunningJob(job: job, nextInterrupt: job.deadline)
        return job
    }

    /// The next job for worker `index`; parks it while there is none. Nil when stopping.
    private func nextJob(_ index: Int) -> PythonJob? {
        while true {
            condition.lock()
            if let job = takeLocked(runningIn: index) {
                condition.unlock()
                return job
            }
            if stopping {
                condition.unlock()
                return nil
            }
            activeWorkers -= 1
            parked.append(index)
            condition.unlock()
            wakeups[index].wait()
        }
    }

    private func workerMain(_ index: Int) {
        // Foundation's `Thread.name` does not reach the kernel on Linux; `top -H` and `perf`
        // show this name.
        pyrpc_name_thread("py-\(name)-\(index)")
        pyrpc_unblock_signals()
        _ = pyrpc_prefer_batch_scheduling()
        let outer = PyGILState_Ensure()
        let ident = PyThread_get_thread_ident()
        let threadState = PyEval_SaveThread()!
        condition.lock()
        threadIdents[index] = UInt(ident)
        condition.unlock()

        while let job = nextJob(index) {
            run(job, slot: index, threadState: threadState, ident: UInt(ident), now: .now)
        }

        PyEval_RestoreThread(threadState)
        PyGILState_Release(outer)
        condition.lock()
        liveWorkers -= 1
        activeWorkers -= 1
        condition.broadcast()
        condition.unlock()
    }

    /// Runs one job in `slot` (a worker's or a guest's, where `takeLocked(runningIn:)` marked
    /// it running), or answers it as expired if it waited in the queue past its deadline.
    private func run(_ job: PythonJob, slot: Int, threadState: UnsafeMutablePointer<PyThreadState>, ident: UInt, now: Moment) {
        if let deadline = job.deadline, deadline <= now {
            clearRunning(slot)
            if job.claim() { job.expire() }
            job.finish()
            return
        }
        GIL.withPinned(threadState) { gil in
            // Withdrawn while this thread waited for the GIL (a crashed call held it): it
            // runs elsewhere.
            guard job.begin() else { return clearRunning(slot) }
            job.run(gil)
            // A script forked and the child returned here: it must not answer or serve.
            if pyrpc_is_forked_child() != 0 { pyrpc_end_forked_child() }
            // Cleared with the GIL held: the monitor interrupts only with the GIL and only the
            // job it finds here, so no interrupt can be raised after the next line.
            clearRunning(slot)
            // Drop an interrupt the monitor raced in after the call had returned.
            if job.interruptRaised { PyThreadState_SetAsyncExc(ident, nil) }
        }
        job.finish()
    }

    private func clearRunning(_ slot: Int) {
        condition.lock()
        running[slot] = nil
        condition.unlock()
    }

    private static func seconds(_ duration: Duration) -> Double {
        Double(duration.components.seconds) + Double(duration.components.attoseconds) / 1e18
    }
}
