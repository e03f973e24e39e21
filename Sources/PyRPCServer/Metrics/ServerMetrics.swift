import CLinux
import NIOConcurrencyHelpers

#if canImport(Glibc)
import Glibc
#endif

/// What a supervisor knows for `GET /metrics` about its processes' counts: each child's
/// metrics board, mapped while it runs; what children that are gone counted, to their last
/// call; and its own board (the crash-loop desk, deploys). Reading sums them all: counts stay
/// exact and only grow however workers come and go.
final class ServerMetrics: @unchecked Sendable {  // `state` is touched only under `lock`
    /// The supervisor's own counts.
    let own: MetricsBoard
    private let lock = NIOLock()
    private var live: [pid_t: UnsafePointer<pyrpc_metrics_board>] = [:]
    /// What children that are gone counted (gauges excluded), and the processor time they used.
    private let retired: UnsafeMutablePointer<pyrpc_metrics_board>
    private var retiredCPUSeconds = 0.0
    private var restarts: [WorkerRestart: Int] = [:]

    init() {
        // A supervisor lives as long as its process: its boards are never freed.
        own = MetricsBoard(board: pyrpc_metrics_new())
        retired = pyrpc_metrics_new()
    }

    /// A child started with the stats board `fd` (its metrics board follows the stats).
    func follow(_ pid: pid_t, statsBoard fd: Int32) {
        guard fd >= 0, let board = pyrpc_metrics_map(fd) else { return }
        lock.withLock { live[pid] = board }
    }

    /// Child `pid` was reaped: what it counted moves to the gone children's share.
    func ended(_ pid: pid_t, cpuSeconds: Double) {
        lock.withLock {
            retiredCPUSeconds += cpuSeconds
            guard let board = live.removeValue(forKey: pid) else { return }
            pyrpc_metrics_sum(board, retired, 0)
            pyrpc_metrics_unmap(board)
        }
    }

    func restarted(_ reason: WorkerRestart) {
        lock.withLock { restarts[reason, default: 0] += 1 }
    }

    /// Everything counted so far, summed over the supervisor and every child, live or gone.
    func read() -> MetricsReading {
        guard let sum = pyrpc_metrics_new() else { return MetricsReading() }
        defer { pyrpc_metrics_free(sum) }
        let (children, cpu, restartCounts) = lock.withLock { () -> ([pid_t], Double, [WorkerRestart: Int]) in
            pyrpc_metrics_sum(retired, sum, 0)
            pyrpc_metrics_sum(own.board, sum, 1)
            for board in live.values { pyrpc_metrics_sum(board, sum, 1) }
            return (Array(live.keys), retiredCPUSeconds, self.restarts)
        }
        var reading = MetricsReading(sum)
        reading.children = children
        reading.retiredCPUSeconds = cpu
        reading.restarts = restartCounts
        return reading
    }
}

/// Why a worker was replaced, as `pyrpc_worker_restarts_total`'s `reason` label says it.
enum WorkerRestart: String, CaseIterable, Sendable {
    case crash
    case harakiri
    case maxRequests = "max_requests"
    case maxRSS = "max_rss"
    case reload

    /// Why a worker that exited is replaced: it was not asked to leave (a crash, a kill), or
    /// why it was asked to (the words its watchdog and the supervisor use); nil for a worker
    /// that is not replaced for itself (the server stops, a deploy replaces every worker).
    init?(leaving: String?) {
        guard let leaving else { self = .crash; return }
        if leaving.hasPrefix("harakiri") {
            self = .harakiri
        } else if leaving.contains("--max-requests") {
            self = .maxRequests
        } else if leaving.contains("--max-rss") {
            self = .maxRSS
        } else if leaving.contains("SIGHUP") {
            self = .reload
        } else {
            return nil
        }
    }
}
