import CLinux
import NIOConcurrencyHelpers

/// Counters and recent latencies of one overload, for `pyrpc stats` and the log.
///
/// In a worker process they live on its stats board (`StatsBoard`), memory it shares with its
/// supervisor: what a worker counted survives it, however it dies. Elsewhere, in this process.
final class CallStats: @unchecked Sendable {  // `slot` is touched only under `state`'s lock
    enum Outcome: Sendable {
        case ok
        case error
        case timeout
    }

    struct Snapshot: Sendable {
        var calls: Int
        var errors: Int
        var timeouts: Int
        /// Milliseconds, over the most recent calls (up to `window`).
        var p50: Double?
        var p99: Double?
    }

    /// How many recent latencies the percentiles are computed over.
    static let window = Int(PYRPC_STATS_WINDOW)

    private struct State {
        var calls = 0
        var errors = 0
        var timeouts = 0
        var latencies: [Double] = []  // seconds, a ring of `window` entries
        var next = 0
    }

    private let state = NIOLockedValueBox(State())
    /// Its slot on the stats board, in a worker process (nil: counted in `state`).
    private let slot: UnsafeMutablePointer<pyrpc_stats_slot>?

    /// Counted in this process only.
    init() {
        slot = nil
    }

    /// On the stats board when this is a worker process with one (see `StatsBoard`).
    init(service: String, rpc: String, signature: String, hash: String) {
        var key = StatsBoard.key(service: service, rpc: rpc, signature: signature, hash: hash)
        slot = key.withUTF8 { bytes in
            bytes.withMemoryRebound(to: CChar.self) { pyrpc_stats_board_claim($0.baseAddress, bytes.count) }
        }
    }

    deinit {
        if let slot { pyrpc_stats_board_release(slot) }
    }

    func record(_ outcome: Outcome, seconds: Double) {
        state.withLockedValue { state in
            if let slot {
                return pyrpc_stats_record(slot, outcome == .ok ? 0 : outcome == .error ? 1 : 2, seconds)
            }
            state.calls += 1
            switch outcome {
            case .ok: break
            case .error: state.errors += 1
            case .timeout: state.timeouts += 1
            }
            if state.latencies.count < Self.window {
                state.latencies.append(seconds)
            } else {
                state.latencies[state.next] = seconds
                state.next = (state.next + 1) % Self.window
            }
        }
    }

    /// Counters and the recent latencies (seconds), unsorted.
    func raw() -> (calls: Int, errors: Int, timeouts: Int, latencies: [Double]) {
        state.withLockedValue { state in
            if let slot { return StatsBoard.counts(of: UnsafePointer(slot)) }
            return (state.calls, state.errors, state.timeouts, state.latencies)
        }
    }

    func snapshot() -> Snapshot {
        let (calls, errors, timeouts, latencies) = raw()
        let (p50, p99) = Self.percentiles(latencies)
        return Snapshot(calls: calls, errors: errors, timeouts: timeouts, p50: p50, p99: p99)
    }

    /// The median and 99th percentile of `latencies` (seconds), in milliseconds.
    static func percentiles(_ latencies: [Double]) -> (p50: Double?, p99: Double?) {
        let sorted = latencies.sorted()
        func percentile(_ p: Double) -> Double? {
            guard !sorted.isEmpty else { return nil }
            let index = min(sorted.count - 1, Int((p * Double(sorted.count)).rounded(.up)) - 1)
            return sorted[max(0, index)] * 1000
        }
        return (percentile(0.5), percentile(0.99))
    }
}
