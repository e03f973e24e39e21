import CLinux
import PyRPCWire

#if canImport(Glibc)
import Glibc
#endif

/// A worker process's stats board: each overload's `CallStats` in memory shared with the
/// supervisor (a memfd, descriptor 6 of the worker), which reads it once the worker is gone,
/// so that what it counted survives a SIGKILL or a crash (see `pyrpc_stats_board_claim`).
public enum StatsBoard {
    static let descriptor: Int32 = 6
    /// The memfd's size: the slots, then the metrics board (`MetricsBoard`).
    static var size: Int { pyrpc_metrics_offset() + pyrpc_metrics_size() }

    /// In a worker: maps the board its supervisor passed, if any, and counts metrics on the
    /// board after it.
    public static func attach() {
        var status = stat()
        guard fstat(descriptor, &status) == 0, status.st_mode & S_IFMT == S_IFREG, status.st_size == size else { return }
        _ = pyrpc_stats_board_attach(descriptor)
    }

    /// In the supervisor: a new board for a worker about to start; -1 if none could be made.
    static func create() -> Int32 {
        pyrpc_stats_board_create()
    }

    /// An overload's identity on the board: its four names, each NUL-terminated.
    static func key(service: String, rpc: String, signature: String, hash: String) -> String {
        [service, rpc, signature, hash].map { $0 + "\0" }.joined()
    }

    /// A slot's counters and latencies, oldest first.
    static func counts(of slot: UnsafePointer<pyrpc_stats_slot>) -> (calls: Int, errors: Int, timeouts: Int, latencies: [Double]) {
        let kept = Int(min(slot.pointee.recorded, Int64(PYRPC_STATS_WINDOW)))
        let next = Int(slot.pointee.next)
        let latencies = UnsafeRawPointer(slot).advanced(by: MemoryLayout<pyrpc_stats_slot>.offset(of: \.latencies)!)
            .withMemoryRebound(to: Double.self, capacity: Int(PYRPC_STATS_WINDOW)) { ring in
                // Before the ring wrapped, the entries are 0 ..< kept; after, the oldest is at `next`.
                kept < Int(PYRPC_STATS_WINDOW) ? Array(UnsafeBufferPointer(start: ring, count: kept))
                    : Array(UnsafeBufferPointer(start: ring + next, count: kept - next)) + Array(UnsafeBufferPointer(start: ring, count: next))
            }
        return (Int(slot.pointee.calls), Int(slot.pointee.errors), Int(slot.pointee.timeouts), latencies)
    }

    /// In the supervisor, once the worker is gone: what its overloads counted (nil without a board).
    static func read(_ fd: Int32) -> [RPCStats]? {
        guard fd >= 0 else { return nil }
        let stride = MemoryLayout<pyrpc_stats_slot>.stride
        let slot = UnsafeMutableRawPointer.allocate(byteCount: stride, alignment: MemoryLayout<pyrpc_stats_slot>.alignment)
        defer { slot.deallocate() }
        var found: [RPCStats] = []
        for index in 0..<Int(PYRPC_STATS_SLOTS) {
            guard pread(fd, slot, stride, off_t(index * stride)) == stride else { return found }
            let typed = slot.assumingMemoryBound(to: pyrpc_stats_slot.self)
            guard typed.pointee.in_use == 1 else { continue }
            let names = withUnsafeBytes(of: typed.pointee.key) { bytes in
                bytes.split(separator: 0, omittingEmptySubsequences: false).prefix(4).map { String(decoding: $0, as: UTF8.self) }
            }
            guard names.count == 4 else { continue }
            let (calls, errors, timeouts, latencies) = counts(of: typed)
            found.append(RPCStats(
                service: names[0], rpc: names[1], signature: names[2], hash: names[3], calls: calls, errors: errors,
                timeouts: timeouts, latencies: latencies))
        }
        return found
    }
}
