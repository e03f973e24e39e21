import Foundation
import PyRPCWire

/// Every worker's `stats` for one STATS-REQ, gathered on the workers' reader threads.
final class StatsGathering: @unchecked Sendable {  // `snapshots` is read and written under `condition`
    let number: Int
    private let condition = NSCondition()
    private var workers: Set<pid_t>
    private var snapshots: [pid_t: WorkerStats] = [:]

    init(number: Int, workers: Set<pid_t>) {
        self.number = number
        self.workers = workers
    }

    var expected: Set<pid_t> {
        condition.lock()
        defer { condition.unlock() }
        return workers
    }

    /// `pid` died: nothing will come from it.
    func forget(_ pid: pid_t) {
        condition.lock()
        defer { condition.unlock() }
        workers.remove(pid)
        condition.broadcast()
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
        while !workers.isSubset(of: snapshots.keys), condition.wait(until: deadline) {}
        return snapshots.values.filter { workers.contains($0.pid) }.sorted { $0.pid < $1.pid }
    }
}
