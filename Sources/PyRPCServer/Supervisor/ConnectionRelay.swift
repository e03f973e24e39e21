import Foundation
import Logging
import NIOConcurrencyHelpers
import PyRPCWire
import Synchronization

#if canImport(Glibc)
import Glibc
#endif

/// Gives the connections a leaving worker hands over (`ConnectionTransfer`) to the workers
/// that stay, in turn. With one process the only other worker is the successor: a
/// connection waits for it to be ready (a worker leaves only once its successor is, so that
/// wait is short). The supervisor holds each socket only on its way: it reads nothing from it.
final class ConnectionRelay: Sendable {
    private let workers: WorkerSet
    private let logger: Logger
    /// Transfers wait here, in order, never on the thread reading the leaving worker's messages.
    private let queue = DispatchQueue(label: "pyrpc.relay")
    private let turn = Atomic<Int>(0)
    /// Held while an `adopt` is sent and while a door closes: no connection reaches a worker
    /// after its `noMoreConnections`.
    private let sending = NIOLock()
    /// How long a connection waits for a worker to take it.
    static let patience = 30.0

    init(workers: WorkerSet, logger: Logger) {
        self.workers = workers
        self.logger = logger
    }

    func relay(_ transfer: ConnectionTransfer, from leaving: pid_t) {
        guard transfer.descriptor >= 0 else { return }
        queue.async { [self] in
            defer { close(transfer.descriptor) }  // the taker has its own copy now, or nobody does
            var refused: Set<pid_t> = [leaving]
            let deadline = Date() + Self.patience
            while let (pid, channel) = taker(excluding: refused, until: deadline) {
                let sent = sending.withLock {
                    // It may have begun leaving since it was chosen.
                    workers.read { $0.workers[pid]?.handsOver == false } && channel.send(.adopt(transfer))
                }
                if sent { return }
                refused.insert(pid)  // it died or began leaving just now: the next one
            }
            logger.warning("closing a connection from \(transfer.peer) that worker \(leaving) handed over: no worker could take it within \(Int(Self.patience)) s")
        }
    }

    /// `pid` is ready: it may accept once the connections waiting for a worker (queued here
    /// before this) are given out.
    func welcome(_ pid: pid_t) {
        queue.async { [workers] in workers.channel(of: pid)?.send(.startAccepting) }
    }

    /// `pid` hands its connections over: it is given none from now on, and told so after
    /// every connection given to it before. At once, not behind transfers waiting for a taker
    /// (with one process, the taker starts only once this worker is gone).
    func closeDoor(of pid: pid_t) {
        sending.withLock {
            let channel = workers.change { contents -> ControlChannel? in
                contents.workers[pid]?.handsOver = true
                return contents.workers[pid]?.channel
            }
            channel?.send(.noMoreConnections)
        }
    }

    /// A ready worker that stays, in turn; nil when the server stops or none comes in time.
    private func taker(excluding refused: Set<pid_t>, until deadline: Date) -> (pid_t, ControlChannel)? {
        let turn = turn.add(1, ordering: .relaxed).newValue
        let found: (pid_t, ControlChannel)?? = workers.wait(until: deadline) { contents in
            if contents.stopping { return .some(nil) }
            let takers = contents.live.filter { $0.ready && !$0.handsOver && !refused.contains($0.pid) }.sorted { $0.pid < $1.pid }
            guard !takers.isEmpty else { return nil }
            let taker = takers[turn % takers.count]
            return .some((taker.pid, taker.channel))
        }
        return found ?? nil
    }
}
