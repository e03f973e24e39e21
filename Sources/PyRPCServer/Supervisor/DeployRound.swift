import Foundation
import PyRPCWire

/// What every worker said in one deploy across processes (see `ControlMessage`). Replies
/// arrive on the workers' reader threads; the supervisor's deploy thread waits for them.
final class DeployRound: @unchecked Sendable {  // every field below is read and written under `condition`
    enum Reply: Sendable {
        case prepared
        case failed(String)
        case died(String)
        /// `changed` false: the worker's state already matched (no `prepared` comes).
        case swapped(DeployResult)
    }

    let number: Int
    let workers: [pid_t]
    private let condition = NSCondition()
    private var replies: [pid_t: Reply] = [:]

    init(number: Int, workers: [pid_t]) {
        self.number = number
        self.workers = workers
    }

    func record(_ reply: Reply, from pid: pid_t) {
        condition.lock()
        defer { condition.unlock() }
        guard workers.contains(pid) else { return }
        if case .died = replies[pid] { return }
        replies[pid] = reply
        condition.broadcast()
    }

    /// Waits until every worker has answered the prepare step, or one has failed; nil at the
    /// deadline.
    func waitForPrepared(until deadline: Date) -> [pid_t: Reply]? {
        wait(until: deadline) { replies in
            replies.values.contains { if case .failed = $0 { true } else if case .died = $0 { true } else { false } }
                || replies.count == self.workers.count
        }
    }

    /// Waits until every worker that prepared has swapped (or died); nil at the deadline.
    func waitForSwapped(until deadline: Date) -> [pid_t: Reply]? {
        wait(until: deadline) { replies in
            replies.values.allSatisfy { if case .prepared = $0 { false } else { true } }
        }
    }

    private func wait(until deadline: Date, _ done: ([pid_t: Reply]) -> Bool) -> [pid_t: Reply]? {
        condition.lock()
        defer { condition.unlock() }
        while !done(replies) {
            if !condition.wait(until: deadline) { return done(replies) ? replies : nil }
        }
        return replies
    }
}
