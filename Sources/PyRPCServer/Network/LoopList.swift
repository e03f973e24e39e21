import NIOConcurrencyHelpers
import PyRPCPython

/// A server's I/O loops, for the Python pool's monitor to watch (`IOLoop.handOverIfStuck`).
/// Filled when the server starts listening; the pool exists before the loops do.
final class LoopList: Sendable {
    private let loops = NIOLockedValueBox<[IOLoop]>([])

    var all: [IOLoop] { loops.withLockedValue { $0 } }

    func set(_ list: [IOLoop]) {
        loops.withLockedValue { $0 = list }
    }

    /// Each loop's `handOverIfStuck`; returns the longest any of them has been without a leader.
    func handOverIfStuck(now: Moment) -> Double {
        all.reduce(0) { longest, loop in max(longest, loop.handOverIfStuck(now: now)) }
    }
}
