import CPython
import Foundation
import Logging

/// Dedicated threads that run Python, each with its thread state pinned for its whole life
/// (re-creating one per call costs ~10 µs and loses `threading.local` data).
///
/// Calls that block in Python (sleep, I/O) release the GIL and overlap; CPU-bound Python is
/// serialized by the GIL. The queue of pending jobs is bounded: `submit` refuses rather
/// than queueing without limit. A watchdog thread enforces deadlines by answering the call
/// itself and raising `_pyrpc.RPCTimeout` inside the running thread.
public final class PythonWorkerPool: @unchecked Sendable {
    public let name: String
    public let workerCount: Int
    public let maxPending: Int

    private let condition = NSCondition()
    private var queue: [PythonJob] = []
    private var queueHead = 0
    private var stopping = false
    private var liveWorkers = 0
    /// What each worker is running now, for the watchdog. Guarded by `condition`.
    private var running: [RunningJob?]
    private var threadIdents: [UInt]
    private let watchdog = NSCondition()
    private var watchdogWake = false
    private let logger: Logger

    private struct RunningJob {
        var job: PythonJob
        var nextInterrupt: ContinuousClock.Instant?
    }

    public init(name: String, workers: Int, maxPending: Int, logger: Logger = Logger(label: "pyrpc.python")) {
        _ = PythonRuntime.shared
        self.name = name
        self.workerCount = max(1, workers)
        self.maxPending = max(1, maxPending)
        self.logger = logger
        running = Array(repeating: nil, count: self.workerCount)
        threadIdents = Array(repeating: 0, count: self.workerCount)
        liveWorkers = self.workerCount
        for index in 0..<self.workerCount {
            let thread = Thread { [self] in workerMain(index) }
            thread.name = "pyrpc-\(name)-py\(index)"
            thread.stackSize = 16 << 20  // deep recursion in scripts should hit RecursionError, not the guard page
            thread.start()
        }
        let watchdogThread = Thread { [self] in watchdogMain() }
        watchdogThread.name = "pyrpc-\(name)-watchdog"
        watchdogThread.start()
    }

    /// Number of jobs waiting for a worker.
    public var pendingCount: Int {
        condition.lock()
        defer { condition.unlock() }
        return queue.count - queueHead
    }

    /// Queues a job. Returns false when the queue is full (the caller answers `Server Busy`)
    /// or the pool is stopping. `force` skips the length check, for admin work such as loading.
    @discardableResult
    public func submit(_ job: PythonJob, force: Bool = false) -> Bool {
        condition.lock()
        defer { condition.unlock() }
        guard !stopping, force || queue.count - queueHead < maxPending else { return false }
        queue.append(job)
        condition.signal()
        return true
    }

    /// Runs `body` on a worker with the GIL and returns its result (admin work, no deadline).
    public func perform<T: Sendable>(_ body: @escaping @Sendable (borrowing GIL) -> T) async -> T {
        await withCheckedContinuation { continuation in
            let accepted = submit(PythonJob(deadline: nil, work: { gil in continuation.resume(returning: body(gil)) }), force: true)
            if !accepted {
                // Stopping: run it here rather than never answering.
                continuation.resume(returning: PythonRuntime.shared.withGIL { body($0) })
            }
        }
    }

    /// Blocking variant of `perform`, for code that is not async (never call it on an event loop).
    public func performBlocking<T: Sendable>(_ body: @escaping @Sendable (borrowing GIL) -> T) -> T {
        let box = ResultBox<T>()
        let done = DispatchSemaphore(value: 0)
        let accepted = submit(PythonJob(deadline: nil, work: { gil in
            box.value = body(gil)
            done.signal()
        }), force: true)
        if !accepted { return PythonRuntime.shared.withGIL { body($0) } }
        done.wait()
        return box.value!
    }

    /// Stops taking jobs, lets queued and running ones finish for up to `grace`, then returns.
    /// Returns false if some worker was still busy (stuck in C code, say) at the end.
    @discardableResult
    public func shutdown(grace: Duration) -> Bool {
        let deadline = Date().addingTimeInterval(Double(grace.components.seconds) + Double(grace.components.attoseconds) / 1e18)
        condition.lock()
        stopping = true
        condition.broadcast()
        while liveWorkers > 0 {
            if !condition.wait(until: deadline) { break }
        }
        let allStopped = liveWorkers == 0
        condition.unlock()
        watchdog.lock()
        watchdogWake = true
        watchdog.signal()
        watchdog.unlock()
        return allStopped
    }

    // MARK: Workers

    private func nextJob() -> PythonJob? {
        condition.lock()
        defer { condition.unlock() }
        while queueHead == queue.count {
            if stopping { return nil }
            condition.wait()
        }
        let job = queue[queueHead]
        queueHead += 1
        if queueHead > 1024, queueHead * 2 > queue.count {
            queue.removeFirst(queueHead)
            queueHead = 0
        }
        return job
    }

    private func workerMain(_ index: Int) {
        let outer = PyGILState_Ensure()
        let ident = PyThread_get_thread_ident()
        let threadState = PyEval_SaveThread()!
        condition.lock()
        threadIdents[index] = UInt(ident)
        condition.unlock()

        while let job = nextJob() {
            if let deadline = job.deadline, deadline <= .now {
                // It waited in the queue past its limit: answer without running it.
                if job.ticket.claim() { job.expired() }
                job.finished()
                continue
            }
            GIL.withPinned(threadState) { gil in
                setRunning(index, job)
                job.work(gil)
                setRunning(index, nil)
                // Drop an interrupt the watchdog raced in after the call had returned.
                PyThreadState_SetAsyncExc(ident, nil)
            }
            job.finished()
        }

        PyEval_RestoreThread(threadState)
        PyGILState_Release(outer)
        condition.lock()
        liveWorkers -= 1
        condition.broadcast()
        condition.unlock()
    }

    private func setRunning(_ index: Int, _ job: PythonJob?) {
        condition.lock()
        running[index] = job.map { RunningJob(job: $0, nextInterrupt: $0.deadline) }
        condition.unlock()
        if job?.deadline != nil {
            watchdog.lock()
            watchdogWake = true
            watchdog.signal()
            watchdog.unlock()
        }
    }

    // MARK: Watchdog

    private func watchdogMain() {
        while true {
            // Find what is due now and when the next thing will be.
            var due: [(index: Int, job: PythonJob)] = []
            var nextWake: ContinuousClock.Instant?
            let now = ContinuousClock.now
            condition.lock()
            let done = stopping && liveWorkers == 0
            for index in running.indices {
                guard let entry = running[index], let at = entry.nextInterrupt else { continue }
                if at <= now {
                    due.append((index, entry.job))
                    // A script that swallows the interrupt (`except BaseException`) gets another each second.
                    running[index]!.nextInterrupt = now + .seconds(1)
                    nextWake = min(nextWake ?? now + .seconds(1), now + .seconds(1))
                } else {
                    nextWake = min(nextWake ?? at, at)
                }
            }
            condition.unlock()
            if done { return }

            for (index, job) in due {
                if job.ticket.claim() { job.expired() }
                interrupt(worker: index, running: job.ticket)
            }

            watchdog.lock()
            if !watchdogWake {
                if let nextWake {
                    let delay = now.duration(to: nextWake)
                    let seconds = Double(delay.components.seconds) + Double(delay.components.attoseconds) / 1e18
                    _ = watchdog.wait(until: Date().addingTimeInterval(max(0, seconds)))
                } else {
                    watchdog.wait()
                }
            }
            watchdogWake = false
            watchdog.unlock()
        }
    }

    /// Raises RPCTimeout in worker `index` if it is still running the job with `ticket`.
    private func interrupt(worker index: Int, running ticket: JobTicket) {
        PythonRuntime.shared.withGIL { _ in
            condition.lock()
            let stillRunning = running[index]?.job.ticket === ticket
            let ident = threadIdents[index]
            condition.unlock()
            // Holding the GIL, the worker cannot finish its job between the check and the raise.
            if stillRunning {
                PyThreadState_SetAsyncExc(UInt(ident), PythonRuntime.shared.timeoutType.pointer)
            }
        }
    }
}

private final class ResultBox<T>: @unchecked Sendable {
    var value: T?
}
