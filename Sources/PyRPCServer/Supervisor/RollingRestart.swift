import Foundation

#if canImport(Glibc)
import Glibc
#endif

/// SIGHUP: replaces the workers one by one, each only after its successor is ready, so no
/// call fails. A successor that dies as it starts (the state on disk now crashes an import:
/// a package changed under the venv) ends the round: the workers serving keep serving, as the
/// next successor would die the same way.
struct RollingRestart {
    let supervisor: Supervisor
    /// As long as the first workers may take to start.
    static let patience = 120.0

    private enum StartOutcome { case ready, died, stopping }

    func run() {
        let workers = supervisor.workers
        let logger = supervisor.logger
        supervisor.reloadTLS()
        let old = workers.read { $0.live.map(\.pid).sorted() }
        logger.info("replacing \(old.count) worker\(old.count == 1 ? "" : "s") one by one (SIGHUP)")
        for pid in old {
            // Gone meanwhile (crashed, recycled): its replacement already runs fresh.
            guard let place = workers.read({ $0.workers[pid].flatMap { $0.leaving == nil ? $0.place : nil } }) else { continue }
            guard let successor = supervisor.spawnWorker(place: place) else { return }
            switch waitUntilStarted(successor) {
            case .ready?:
                supervisor.retire(pid, because: "replaced (SIGHUP)")
            case .died?:
                logger.error("worker \(pid) is kept, and so are the others: its successor \(successor) died as it started (above); SIGHUP replaced no further worker")
                return
            case nil:
                logger.error("worker \(pid) is kept, and so are the others: its successor \(successor) was not ready within \(Int(Self.patience)) s and is killed")
                workers.change { $0.workers[successor]?.leaving = "not ready within \(Int(Self.patience)) s of a SIGHUP" }
                kill(successor, SIGKILL)
                return
            case .stopping?:
                return
            }
        }
    }

    /// Waits until the worker `pid` is ready or has died; nil when the patience ran out first.
    private func waitUntilStarted(_ pid: pid_t) -> StartOutcome? {
        supervisor.workers.wait(until: Date().addingTimeInterval(Self.patience)) { contents -> StartOutcome? in
            if contents.stopping { return .stopping }
            guard let worker = contents.workers[pid] else { return .died }
            return worker.ready ? .ready : nil
        }
    }
}
