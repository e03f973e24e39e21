import Foundation
import PyRPCWire

/// Every worker's `stats` for one STATS-REQ, gathered on the workers' reader threads.
final class StatsGathering: @unchecked Sendable {  // `snapshots` is read and written under `condition`
    let number: Int
    let workers: Set<pid_t>
    private let condition = NSCondition()
    private var snapshots: [pid_t: WorkerStats] = [:]

    init(number: Int, workers: Set<pid_t>) {
        self.number = number
        self.workers = workers
    }

    func record(_ snapshot: WorkerStats, from pid: pid_t) {
        condition.lock()
        defer { condition.unlock() }
        guard workers.contains(pid) else { return }
        snapshots[pid] = snapshot
        condition.broadcast()
    }

    /// The snapshots that arrived by `deadline` (a worker that died meanwhile sends none).
    func wait(until deadline: Date) -> [WorkerStats] {
        condition.lock()
        defer { condition.unlock() }
        while snapshots.count < workers.count, condition.wait(until: deadline) {}
        return snapshots.values.sorted { $0.pid < $1.pid }
    }
}
