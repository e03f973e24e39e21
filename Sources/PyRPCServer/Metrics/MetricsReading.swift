import CLinux

#if canImport(Glibc)
import Glibc
#endif

/// The sum of a supervisor's metrics boards at one moment (`ServerMetrics.read`), in Swift
/// values, with what the supervisor adds about its children.
struct MetricsReading: Sendable {
    struct RPC: Sendable {
        let service: String
        /// Empty: the service's requests for rpcs it lacks.
        let rpc: String
        /// By `CallOutcome`.
        let outcomes: [Int]
        /// Calls per duration bucket (not cumulative, the last above every bound), and their
        /// durations summed per bucket.
        let buckets: [Int]
        let nanoseconds: [Int]
    }

    var rpcs: [RPC] = []
    /// Outcomes of requests naming no declared service, by `CallOutcome`.
    var unnamed = [Int](repeating: 0, count: CallOutcome.allCases.count)
    var connectionsOpen = 0
    var connectionsAccepted = 0
    /// By `RefusalReason`.
    var refused = [Int](repeating: 0, count: RefusalReason.allCases.count)
    var callsPending = 0
    var bufferedBytes = 0
    /// By `DeployOutcome`.
    var deploys = [Int](repeating: 0, count: DeployOutcome.allCases.count)
    /// Unix seconds of the last applied deploy; 0: none since the server started.
    var lastDeploy = 0
    /// The supervisor's children running now.
    var children: [pid_t] = []
    /// Processor time children that are gone used.
    var retiredCPUSeconds = 0.0
    var restarts: [WorkerRestart: Int] = [:]

    init() {}

    init(_ board: UnsafePointer<pyrpc_metrics_board>) {
        // Field by field: `board.pointee` whole would copy every rpc's place.
        let counts = board
        unnamed = Self.ints(counts.pointee.unnamed, CallOutcome.allCases.count)
        connectionsOpen = Int(counts.pointee.connections_open)
        connectionsAccepted = Int(counts.pointee.connections_accepted)
        refused = Self.ints(counts.pointee.refused, RefusalReason.allCases.count)
        callsPending = max(0, Int(counts.pointee.calls_submitted - counts.pointee.calls_finished))
        bufferedBytes = max(0, Int(counts.pointee.buffered_bytes))
        deploys = Self.ints(counts.pointee.deploys, DeployOutcome.allCases.count)
        lastDeploy = Int(counts.pointee.last_deploy)
        for index in 0..<Int(min(counts.pointee.claimed, Int64(PYRPC_METRICS_RPCS))) {
            let rpc = pyrpc_metrics_rpc_at(board, index)!
            let names = withUnsafeBytes(of: rpc.pointee.key) { bytes in
                bytes.split(separator: 0, maxSplits: 2, omittingEmptySubsequences: false).prefix(2).map { String(decoding: $0, as: UTF8.self) }
            }
            guard names.count == 2 else { continue }
            rpcs.append(RPC(
                service: names[0], rpc: names[1], outcomes: Self.ints(rpc.pointee.outcomes, Int(PYRPC_OUTCOMES)),
                buckets: Self.ints(rpc.pointee.buckets, Int(PYRPC_DURATION_BUCKETS)),
                nanoseconds: Self.ints(rpc.pointee.nanoseconds, Int(PYRPC_DURATION_BUCKETS))))
        }
    }

    /// The first `count` int64s of a C array (imported as a tuple).
    private static func ints<Tuple>(_ tuple: Tuple, _ count: Int) -> [Int] {
        withUnsafeBytes(of: tuple) { bytes in bytes.bindMemory(to: Int64.self).prefix(count).map { Int($0) } }
    }
}
