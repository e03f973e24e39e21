import CLinux
import Foundation

/// A metrics board (`pyrpc_metrics.h`) to count on: `process`, this process's (in a worker,
/// the board its supervisor reads), or a supervisor's own (several share a process in
/// `pyrpc up`). Every count is one relaxed atomic add: nothing waits on the call path.
struct MetricsBoard: @unchecked Sendable {  // the board is only changed by atomic adds
    let board: UnsafeMutablePointer<pyrpc_metrics_board>

    static var process: MetricsBoard { MetricsBoard(board: pyrpc_metrics_process()) }

    /// A request naming no declared service, or that could not be read as one.
    func unnamed(_ outcome: CallOutcome) {
        pyrpc_metrics_count_unnamed(board, Int32(outcome.rawValue))
    }

    /// A connection was admitted; `handedOver`: from another worker, which accepted it.
    func connectionOpened(handedOver: Bool = false) {
        pyrpc_metrics_count_connection(board, 1, handedOver ? 0 : 1)
    }

    func connectionClosed() {
        pyrpc_metrics_count_connection(board, -1, 0)
    }

    func refused(_ reason: RefusalReason) {
        pyrpc_metrics_count_refused(board, Int32(reason.rawValue))
    }

    func deploy(_ outcome: DeployOutcome) {
        pyrpc_metrics_count_deploy(board, Int32(outcome.rawValue), Int64(Date().timeIntervalSince1970))
    }

    // MARK: This process's calls and buffers

    static func unnamed(_ outcome: CallOutcome) {
        process.unnamed(outcome)
    }

    /// Connections of this process now hold `delta` bytes more.
    @inline(__always)
    static func buffered(adding delta: Int) {
        pyrpc_metrics_count_buffered(Int64(delta))
    }

    /// A call was queued for Python.
    @inline(__always)
    static func callSubmitted() {
        pyrpc_metrics_count_submitted()
    }

    /// A call left Python; returns how many have, in this process.
    @inline(__always)
    static func callFinished() -> Int {
        Int(pyrpc_metrics_count_finished())
    }

    static var callsFinished: Int { Int(pyrpc_metrics_finished()) }
}

/// The counters of one declared rpc (or, with `rpc` empty, of a declared service's requests
/// for rpcs it lacks) on this process's metrics board. Claimed when a generation is built: the
/// same names keep their place across deploys, so their counts go on.
struct RPCCounters: @unchecked Sendable {  // the place is only changed by atomic adds
    private let place: UnsafeMutablePointer<pyrpc_rpc_counters>?

    init(service: String, rpc: String) {
        var key = service + "\0" + rpc + "\0"
        place = key.withUTF8 { bytes in
            bytes.withMemoryRebound(to: CChar.self) { pyrpc_metrics_claim($0.baseAddress, bytes.count) }
        }
    }

    /// A call that ran (or was waited for) `seconds`.
    @inline(__always)
    func record(_ outcome: CallOutcome, seconds: Double) {
        guard let place else { return MetricsBoard.unnamed(outcome) }
        pyrpc_metrics_call(place, Int32(outcome.rawValue), Int64(seconds * 1e9))
    }

    /// A call answered before it ran: counted, not timed.
    func count(_ outcome: CallOutcome) {
        guard let place else { return MetricsBoard.unnamed(outcome) }
        pyrpc_metrics_call(place, Int32(outcome.rawValue), -1)
    }
}
