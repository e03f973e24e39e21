import Foundation
import PyRPCWire

/// Once a second, asks every serving worker for its counters (without latencies: cheap), so
/// that what a worker counted survives it when it dies (`StatsAggregator`).
final class Heartbeat: Sendable {
    private let workers: WorkerSet
    /// Signalled by `stop`, so the thread ends at once rather than at its next beat.
    private let stopped = DispatchSemaphore(value: 0)

    init(workers: WorkerSet) {
        self.workers = workers
    }

    func start() {
        let thread = Thread { [self] in
            // The timer: a second's wait, cut short by `stop`.
            while stopped.wait(timeout: .now() + 1) == .timedOut {
                for worker in workers.read(\.reporting) { worker.channel.send(.collectStats(round: ControlMessage.heartbeat)) }
            }
        }
        thread.start()
    }

    func stop() {
        stopped.signal()
    }
}
