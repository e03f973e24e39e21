import CLinux
import CPython
import Foundation

/// The pool's monitor thread: deadlines (a Timeout answer, then `_pyrpc.RPCTimeout` raised
/// in the call), stalled queues (another worker woken), and the owner's `onTick`.
extension PythonWorkerPool {
    /// While there is work it ticks every `stallDelaySeconds`: deadlines, stalled queues, `onTick`.
    /// It keeps ticking for a while after the last job (`StallWatch.lingerSeconds`) so that steady
    /// traffic never has to wake it; idle, it sleeps until `submit` wakes it.
    private static let tickPause = timespec(tv_sec: 0, tv_nsec: Int(stallDelaySeconds * 1e9))

    func monitorMain() {
        pyrpc_name_thread("watch-\(name)")
        while true {
            var due: [(index: Int, job: PythonJob)] = []
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
            onTick()

            if tick {
                // A plain sleep: under load this runs a thousand times a second, and a timed
                // condition wait cost several times as much (a wake-up may be missed: the
                // next tick sees whatever it was for).
                var pause = Self.tickPause
                nanosleep(&pause, nil)
                continue
            }
            monitorBell.wait()
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
