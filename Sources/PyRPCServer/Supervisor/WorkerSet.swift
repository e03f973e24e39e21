import Foundation

/// The supervisor's record of its worker processes and of how they ended, under one lock.
/// Every change wakes whoever waits for one (`wait`): the supervisor waits on events — a
/// worker ready, a worker gone, a deploy round over — instead of looking again and again.
final class WorkerSet: @unchecked Sendable {  // `contents` is read and written under `condition` only
    struct Worker {
        let pid: pid_t
        /// Which of the `--processes` places it fills (0 ..< processes): a replacement takes the
        /// place of the worker it replaces, and `pyrpc stats` counts restarts per place.
        let place: Int
        let channel: ControlChannel
        /// Its control socket reached its end: all it sent has been read.
        var controlClosed = false
        var readyAt: ContinuousClock.Instant?
        var ready: Bool { readyAt != nil }
        /// Why it is being stopped on purpose (it is then not replaced when it exits).
        var leaving: String?
        /// It has begun handing its connections over (leaving, or dying of a crashed call): it
        /// takes none.
        var handsOver = false
    }

    struct Contents {
        var workers: [pid_t: Worker] = [:]
        var stopping = false
        /// A deploy round is running: a replacement started now would load the state on disk
        /// before the round commits, so replacements wait for the round's end.
        var deploying = false
        /// Some worker has loaded its state and listened; before that, a worker that exits with
        /// status 2 (a configuration error it has printed) ends the server: `startupFailure`.
        var everReady = false
        var startupFailure: String?
        var history = CrashHistory()

        /// Workers running or starting, not being stopped.
        var live: [Worker] { workers.values.filter { $0.leaving == nil } }
        /// Workers that have loaded their state and accept connections.
        var readyCount: Int { live.filter(\.ready).count }
        /// Workers whose statistics still arrive (one being replaced counts until its socket closes).
        var reporting: [Worker] { workers.values.filter { $0.ready && !$0.controlClosed } }
        /// A crash loop leaves no worker ready: the supervisor answers clients itself (`CrashLoopDesk`).
        var unattended: Bool { !stopping && history.isCrashLoop && readyCount == 0 }
        /// The first place no live worker fills.
        var freePlace: Int {
            let taken = Set(live.map(\.place))
            return (0...).first { !taken.contains($0) }!
        }
    }

    private let condition = NSCondition()
    private var contents = Contents()

    func read<T>(_ body: (Contents) throws -> T) rethrows -> T {
        condition.lock()
        defer { condition.unlock() }
        return try body(contents)
    }

    /// Changes the contents and wakes every waiter.
    @discardableResult
    func change<T>(_ body: (inout Contents) throws -> T) rethrows -> T {
        condition.lock()
        defer {
            condition.broadcast()
            condition.unlock()
        }
        return try body(&contents)
    }

    /// Waits until `check` gives a value, looking again after each change; nil once
    /// `deadline` passes without one (never, without a deadline).
    func wait<T>(until deadline: Date?, _ check: (Contents) -> T?) -> T? {
        condition.lock()
        defer { condition.unlock() }
        while true {
            if let value = check(contents) { return value }
            guard let deadline else {
                condition.wait()  // (`wait(until: .distantFuture)` traps in Foundation)
                continue
            }
            if !condition.wait(until: deadline) { return check(contents) }
        }
    }

    /// `wait`, for a change that may happen only in a certain state: `body` changes the
    /// contents once they are in it (and gives a value), in the same moment it saw them.
    func waitToChange<T>(until deadline: Date, _ body: (inout Contents) -> T?) -> T? {
        condition.lock()
        defer {
            condition.broadcast()
            condition.unlock()
        }
        while true {
            if let value = body(&contents) { return value }
            if !condition.wait(until: deadline) { return body(&contents) }
        }
    }

    func channel(of pid: pid_t) -> ControlChannel? {
        read { $0.workers[pid]?.channel }
    }

    var stopping: Bool { read(\.stopping) }
}
