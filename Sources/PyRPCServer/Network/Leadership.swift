import Dispatch
import PyRPCPython

#if canImport(Glibc)
import Glibc
import NIOConcurrencyHelpers
#endif

/// Which of an I/O loop's threads runs its sockets (leader/followers).
///
/// The leader reads requests, queues the calls, then gives up leadership and runs the calls
/// itself with the GIL: a quick call never changes threads. If it is still in Python a
/// millisecond later (a blocking or long call), the watchdog hands leadership to a standby
/// thread, started on demand, so the other connections keep being served; the old leader
/// becomes a standby when it comes back.
final class Leadership: Sendable {
    /// How long a loop may go without a leader before a standby takes over.
    static let handoverDelaySeconds = 0.001

    private struct State {
        var leading = false
        var leaderlessSince = Moment.now
        var standbys: [DispatchSemaphore] = []
        var threads = 0
        var stopping = false
        /// The loop's connections are closed (by whoever led after `stop`).
        var cleanedUp = false
        /// The thread that leads, for debug builds' confinement checks (`isHeldByCurrentThread`).
        var leader: pthread_t = 0
    }

    private let state = NIOLockedValueBox(State())
    let maxThreads: Int

    init(maxThreads: Int) {
        self.maxThreads = max(1, maxThreads)
    }

    /// Counts a thread about to start; false if the limit is reached.
    func admitThread() -> Bool {
        state.withLockedValue { state in
            guard state.threads < maxThreads, !state.stopping else { return false }
            state.threads += 1
            return true
        }
    }

    func threadExited() {
        state.withLockedValue { $0.threads -= 1 }
    }

    /// Blocks until the calling thread leads; false when the loop is stopping. After `stop`
    /// one thread still gets to lead, to close the connections, if nobody led at the time.
    func acquire(standby: DispatchSemaphore) -> Bool {
        while true {
            let acquired = state.withLockedValue { state -> Bool? in
                if state.stopping {
                    guard !state.leading, !state.cleanedUp else { return nil }
                    state.leading = true
                    state.leader = pthread_self()
                    return true
                }
                if state.leading {
                    state.standbys.append(standby)
                    return false
                }
                state.leading = true
                state.leader = pthread_self()
                return true
            }
            guard let acquired else { return false }
            if acquired { return true }
            standby.wait()
        }
    }

    /// Whether the leader may step down to run Python: another thread can take over if the
    /// call blocks. The last thread never does, so the sockets are always served (a full
    /// queue is answered `Server Busy`, idle connections still close) even when every other
    /// thread is stuck in a call; its calls go to the pool's workers instead.
    var mayStepDown: Bool {
        state.withLockedValue { state in state.threads < maxThreads || !state.standbys.isEmpty }
    }

    /// The leader steps down to run Python.
    func release() {
        state.withLockedValue { state in
            state.leading = false
            state.leader = 0
            state.leaderlessSince = .now
        }
    }

    /// What the watchdog should do for a loop without a leader for `handoverDelaySeconds`.
    enum Handover {
        case none
        case wake(DispatchSemaphore)
        case startThread
    }

    func handoverIfStuck(now: Moment) -> Handover {
        state.withLockedValue { state in
            guard !state.leading, !state.stopping, now.seconds(since: state.leaderlessSince) >= Self.handoverDelaySeconds else { return .none }
            state.leaderlessSince = now  // one handover per delay, while the woken thread gets going
            if let standby = state.standbys.popLast() { return .wake(standby) }
            guard state.threads < maxThreads else { return .none }
            state.threads += 1
            return .startThread
        }
    }

    /// Seconds since the leader stepped down to run Python (0 while a thread leads, or once stopping).
    func leaderlessSeconds(now: Moment) -> Double {
        state.withLockedValue { state in state.leading || state.stopping ? 0 : now.seconds(since: state.leaderlessSince) }
    }

    /// Stops the loop: standbys wake and exit, and `acquire` fails once the connections are
    /// closed.
    func stop() {
        let standbys = state.withLockedValue { state in
            state.stopping = true
            defer { state.standbys = [] }
            return state.standbys
        }
        for standby in standbys { standby.signal() }
    }

    /// Leads without waiting, if nobody does (to clean up from a thread that is not the loop's).
    func tryAcquire() -> Bool {
        state.withLockedValue { state in
            guard !state.leading, !state.cleanedUp else { return false }
            state.leading = true
            state.leader = pthread_self()
            return true
        }
    }

    /// The leader closed everything after `stop`; it stops leading and nobody leads again.
    func cleanedUp() {
        state.withLockedValue { state in
            state.cleanedUp = true
            state.leading = false
            state.leader = 0
        }
    }

    var isCleanedUp: Bool { state.withLockedValue { $0.cleanedUp } }

    /// Whether the calling thread leads: what the loop's leader-only state requires. Read
    /// only by `assert`s, so release builds never take the lock for it.
    var isHeldByCurrentThread: Bool {
        state.withLockedValue { $0.leading && pthread_equal($0.leader, pthread_self()) != 0 }
    }
}
