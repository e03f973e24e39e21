import CLinux
import Foundation
import Synchronization

#if canImport(Glibc)
import Glibc
#endif

/// In a worker process: asks the supervisor for a successor (`retiring`) when a call stays
/// stuck past its deadline (harakiri: its thread would otherwise be lost for good), or when
/// the worker has served its share of requests or memory (recycling). The supervisor then
/// starts the successor and stops this worker gracefully: it accepts nothing new, finishes its
/// other calls, and exits, ending the stuck thread with it.
///
/// It runs on a thread of its own and never takes the GIL: a call stuck in C may hold it.
final class WorkerWatchdog: Sendable {
    private let core: ServerCore
    private let link: SupervisorLink
    private let harakiriGrace: Duration
    private let maxResidentBytes: Int?
    private let retired = Atomic<Bool>(false)

    init(core: ServerCore, link: SupervisorLink) {
        self.core = core
        self.link = link
        let options = core.options
        harakiriGrace = .milliseconds(Int64(options.harakiriGrace * 1000))
        maxResidentBytes = options.maxResidentMegabytes.map { $0 << 20 }
    }

    func start() {
        let thread = Thread { [self] in
            pyrpc_name_thread("watchdog")
            // A timer, and one event: a call stuck past its deadline and a resident size are
            // states to sample (a tenth of a second is finer than any grace or limit they have);
            // the call that reaches `--max-requests` wakes it at once.
            while !retired.load(ordering: .relaxed) {
                _ = core.recycleDue.wait(timeout: .now() + .milliseconds(100))
                if let reason = reasonToRetire() { retire(reason) }
            }
        }
        thread.start()
    }

    private func reasonToRetire() -> String? {
        for job in core.pool.runningJobs {
            if let overdue = job.overdue, overdue >= harakiriGrace {
                return "harakiri: \(job.label) is stuck \(ServerCore.formatSeconds(Double(overdue.components.seconds))) s past its deadline"
            }
        }
        if let maxRequests = core.recycleAfter, MetricsBoard.callsFinished >= maxRequests {
            return "recycled after \(maxRequests) requests (--max-requests)"
        }
        if let maxResidentBytes, let resident = Self.residentBytes(), resident > maxResidentBytes {
            return "recycled at \(resident >> 20) MiB resident (--max-rss \(maxResidentBytes >> 20))"
        }
        return nil
    }

    private func retire(_ reason: String) {
        guard !retired.exchange(true, ordering: .relaxed) else { return }
        core.logger.warning("\(reason); this worker stops accepting and hands over to a new one")
        for loop in core.loops.all { loop.stopAccepting() }
        link.send(.retiring(reason: reason))
    }

    /// Resident memory of this process (from /proc/self/statm).
    static func residentBytes() -> Int? {
        guard let text = try? String(contentsOfFile: "/proc/self/statm", encoding: .utf8) else { return nil }
        let fields = text.split(separator: " ")
        guard fields.count > 1, let pages = Int(fields[1]) else { return nil }
        return pages * Int(sysconf(Int32(_SC_PAGESIZE)))
    }
}
