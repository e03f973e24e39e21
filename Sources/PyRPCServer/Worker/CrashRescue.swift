import CLinux
import Foundation
import PyRPCPython
import Synchronization

#if canImport(Glibc)
import Glibc
#endif

/// In a worker process: what a crashing call leaves behind is put right before the process
/// dies. A call that segfaults, aborts (a fatal Python error), overflows its stack or calls
/// `os._exit` stops its thread in the signal handler (see `pyrpc_crash_rescue_install`), still
/// holding the GIL; this thread then, without Python:
/// - answers the crashed call `Execution Exception` naming the signal or exit status, and the
///   calls running in other threads that their answers are lost (they may have run);
/// - gives every queued call that never started back to its connection, to run elsewhere;
/// - hands every connection over (`IOLoop+HandOver.swift`), to the workers that stay;
/// and lets the process die as it would have (the supervisor replaces it at once: a call, not
/// the start, killed it). Nothing runs twice; no client loses its connection.
///
/// It cannot help when nothing in the process runs any more: SIGKILL, the OOM killer, or a
/// crash in the server's own code outside a call, where the state cannot be trusted.
final class CrashRescue: Sendable {
    private let core: ServerCore
    /// How long the rescue may take before the process dies anyway (the crashed thread waits
    /// 10 s at most).
    static let patience: Duration = .seconds(5)

    init(core: ServerCore) {
        self.core = core
    }

    func start() {
        let wakeFD = pyrpc_crash_rescue_install()
        guard wakeFD >= 0 else { return }  // no scoreboard: a crash kills the process at once
        // Listening from now on: a crash before the thread reads finds the eventfd set.
        pyrpc_crash_rescuer_listening()
        let thread = Thread { [self] in
            pyrpc_name_thread("crash-rescue")
            var count: UInt64 = 0
            while read(wakeFD, &count, 8) < 0, errno == EINTR {}
            rescue(pyrpc_crash_info())
            pyrpc_crash_rescued()
        }
        thread.start()
    }

    private func rescue(_ crash: pyrpc_crash) {
        let deadline = ContinuousClock.now + Self.patience
        let cause = crash.signal_number == 0
            ? "exited its worker with status \(crash.exit_status) (os._exit)"
            : "killed its worker: \(WorkerSpawner.signalName(crash.signal_number))"
        let running = core.pool.abandon()
        let loops = core.loops.all
        core.beginHandOver()
        // Once no loop frames a new request, the queue holds all that will never run here.
        while loops.contains(where: { !$0.stoppedFraming.load(ordering: .acquiring) }), ContinuousClock.now < deadline {
            usleep(1000)
        }
        let crashed = running.first { $0.thread == UInt(crash.thread) }?.job as? CallInFlight
        let what = crashed.map { "\($0.rpcName)() \(cause)" } ?? "a call \(cause)"
        core.logger.error("\(what); answering its calls and handing its connections to the other workers")
        crashed?.answerCrash(cause)
        for (job, _) in running where job !== crashed {
            guard let call = job as? CallInFlight else { continue }
            // Taken by a thread that then waited for the GIL: it never ran, and runs elsewhere.
            if call.withdraw() { call.giveBack() } else { call.answerLost(crashed: what) }
        }
        let queued = core.pool.takeQueued()
        for job in queued {
            (job as? CallInFlight)?.giveBack()
        }
        let left = core.waitForHandOver(until: deadline)
        if left > 0 { core.logger.error("\(left) connection\(left == 1 ? "" : "s") could not be handed over in time; they close with the worker") }
    }
}
