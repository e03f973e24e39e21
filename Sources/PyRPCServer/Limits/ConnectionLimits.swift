import Logging
import NIOConcurrencyHelpers
import Synchronization

/// What one server lets its clients hold, across all its I/O loops: connections (in all and
/// per address) and bytes buffered for them (input not yet framed, answers not yet written).
/// Every refusal is counted (and its reason on the metrics board) and the log gets at most one
/// summary line a second.
final class ConnectionLimits: Sendable {
    let maxConnections: Int
    let maxConnectionsPerAddress: Int
    let maxBufferedBytes: Int
    private let logger: Logger
    private let open = NIOLockedValueBox(OpenConnections())
    private let buffered = Atomic<Int>(0)
    private let refusals = NIOLockedValueBox(Refusals())

    private struct OpenConnections {
        var total = 0
        var byAddress: [String: Int] = [:]
    }

    private struct Refusals {
        var counts: [String: Int] = [:]
        var lastLog = ContinuousClock.now - .seconds(2)
    }

    init(options: ServerOptions, logger: Logger) {
        maxConnections = options.maxConnections
        maxConnectionsPerAddress = options.maxConnectionsPerAddress
        maxBufferedBytes = options.maxBufferedBytes
        self.logger = logger
    }

    /// Counts a new connection from `peer`, or refuses it (nil: admitted) with the reason.
    /// `handedOver`: another worker accepted it and handed it here.
    func admit(_ peer: String, handedOver: Bool = false) -> String? {
        let refusal: (RefusalReason, String)? = open.withLockedValue { open in
            if open.total >= maxConnections { return (.maxConnections, "connections over --max-connections \(maxConnections)") }
            open.total += 1
            // Off (0): not even counted per address.
            guard maxConnectionsPerAddress > 0 else { return nil }
            // One lookup (a hash of the address text) where reading, then writing, took two.
            // A new address starts at 0, under any limit, so no entry is left at 0.
            guard open.byAddress[peer, default: 0].countOne(upTo: maxConnectionsPerAddress) else {
                open.total -= 1
                return (.maxConnectionsPerIP, "connections from \(peer) over --max-connections-per-ip \(maxConnectionsPerAddress)")
            }
            return nil
        }
        guard let (reason, what) = refusal else {
            MetricsBoard.process.connectionOpened(handedOver: handedOver)
            return nil
        }
        refused(reason, what)
        return what
    }

    func closed(_ peer: String) {
        MetricsBoard.process.connectionClosed()
        open.withLockedValue { open in
            open.total -= 1
            guard maxConnectionsPerAddress > 0, let slot = open.byAddress.index(forKey: peer) else { return }
            if open.byAddress.values[slot] > 1 {
                open.byAddress.values[slot] -= 1
            } else {
                open.byAddress.remove(at: slot)
            }
        }
    }

    /// A connection now holds `bytes` instead of `before`; returns whether the server is over
    /// its buffer budget.
    @inline(__always)
    func buffer(_ bytes: Int, insteadOf before: Int) -> Bool {
        guard bytes != before else { return false }
        MetricsBoard.buffered(adding: bytes - before)
        return buffered.wrappingAdd(bytes - before, ordering: .relaxed).newValue > maxBufferedBytes
    }

    var bufferedBytes: Int { buffered.load(ordering: .relaxed) }
    var isOverBudget: Bool { bufferedBytes > maxBufferedBytes }

    /// Counts a refusal; logs a summary of what was refused at most once a second.
    func refused(_ reason: RefusalReason, _ what: String) {
        MetricsBoard.process.refused(reason)
        let summary: String? = refusals.withLockedValue { refusals in
            refusals.counts[what, default: 0] += 1
            let now = ContinuousClock.now
            guard now - refusals.lastLog >= .seconds(1) else { return nil }
            refusals.lastLog = now
            defer { refusals.counts = [:] }
            return refusals.counts.sorted { $0.key < $1.key }.map { "\($0.value) × \($0.key)" }.joined(separator: "; ")
        }
        if let summary { logger.warning("refused (at most one line a second): \(summary)") }
    }
}

private extension Int {
    /// Adds one unless that would pass `limit`; false (unchanged) if it would.
    mutating func countOne(upTo limit: Int) -> Bool {
        guard self < limit else { return false }
        self += 1
        return true
    }
}
