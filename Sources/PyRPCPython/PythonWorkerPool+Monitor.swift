import CLinux
import CPython
import Foundation

/// The pool's monitor thread: deadlines (a Timeout answer, then `_pyrpc.RPCTimeout` raised
/// in the call), stalled queues (another worker woken), and the owner's `onTick`.
extension PythonWorkerPool {
    /// While there is work it looks every 1–4 ms (`TickPace`): deadlines, stalled queues, `onTick`.
    /// It keeps looking for a while after the last job (`StallWatch.lingerSeconds`) so that steady
    /// traffic never has to wake it; idle, it sleeps until `submit` wakes it.
    func monitorMain() {
        pyrpc_name_thread("watch-\(name)")
        // Like the workers: woken on a busy core, it waits for the running thread's slice to end
        // (or for it to sleep) instead of preempting it mid-turn.
        _ = pyrpc_prefer_batch_scheduling()
        var pace = TickPace()
        while true {
            var due: [(index: Int, job: PythonJob)] = []
            var nextInterrupt: Moment?
            let now = Moment.now
            condition.lock()
            let done = stopping && liveWorkers == 0
            var busy = queueHead < queue.count
            for index in running.indices {
                guard let entry = running[index] else { continue }
                busy = true
                // Dying, the GIL may be held for good by the crashed call: no interrupt.
                if let at = entry.nextInterrupt, at <= now, !dying {
                    due.append((index, entry.job))
                    // A script that swallows the interrupt (`except BaseException`) gets another each second.
                    running[index]!.nextInterrupt = now.advanced(bySeconds: 1)
                }
                if !dying, let at = running[index]!.nextInterrupt { nextInterrupt = min(nextInterrupt ?? at, at) }
            }
            let look = stalls.look(at: now, busy: busy, waiting: queueHead < queue.count, takes: takes, anyParked: !parked.isEmpty)
            let stalled = look.wakeOne ? unparkLocked() : nil
            let tick = look.keepTicking
            monitorTicking = tick
            condition.unlock()
            signal(stalled)
            if done { return }

            for (index, job) in due {
                if job.claim() { job.expire() }
                interrupt(worker: index, running: job)
            }
            let ownerWaited = onTick(now)

            if tick {
                // A plain sleep: under load this runs hundreds of times a second, and a timed
                // condition wait cost several times as much (a wake-up may be missed: the
                // next look sees whatever it was for).
                let seconds = pace.next(oldestWait: max(look.waited, ownerWaited), untilDeadline: nextInterrupt.map { $0.seconds(since: now) })
                var pause = timespec(tv_sec: 0, tv_nsec: Int(seconds * 1e9))
                nanosleep(&pause, nil)
                continue
            }
            monitorBell.wait()
            pace.restart()
        }
    }

    func wakeMonitor() {
        monitorBell.ring()
    }

    /// Raises RPCTimeout in worker `index` if it is still running `job`.
    private func interrupt(worker index: Int, running job: PythonJob) {
        PythonRuntime.shared.withGIL { _ in
            condition.lock()
            let stillRunning = running[index]?.job === job
            let ident = threadIdents[index]
            condition.unlock()
            // Holding the GIL, the worker cannot finish its job between the check and the raise.
            if stillRunning {
                job.interruptRaised = true
                PyThreadState_SetAsyncExc(UInt(ident), PythonRuntime.shared.timeoutType.pointer)
            }
        }
    }
}
