import PyRPCWire

/// The per-RPC part of STATS-RES, from one process or merged over several.
enum StatsReport {
    /// This process's counters and latencies for each overload of `generation`.
    static func local(_ generation: Generation) -> [RPCStats] {
        generation.overloads.map { overload in
            let raw = overload.stats.raw()
            return RPCStats(
                service: overload.service, rpc: overload.name, signature: overload.signature.description,
                hash: overload.scriptHash, calls: raw.calls, errors: raw.errors, timeouts: raw.timeouts, latencies: raw.latencies)
        }
    }

    /// One entry per overload: counters summed over `processes`, percentiles over all their
    /// latencies together (averaging percentiles would be wrong).
    static func entries(_ processes: [[RPCStats]]) -> [StatsReply.RPC] {
        merge(processes).map { stats in
            let (p50, p99) = CallStats.percentiles(stats.latencies)
            return StatsReply.RPC(
                service: stats.service, rpc: stats.rpc, signature: stats.signature, hash: stats.hash,
                calls: stats.calls, errors: stats.errors, timeouts: stats.timeouts, p50: p50, p99: p99)
        }
    }

    /// Which overload `stats` counts: service, rpc, signature and script.
    static func key(_ stats: RPCStats) -> String {
        "\(stats.service).\(stats.rpc)\(stats.signature)\(stats.hash)"
    }

    /// One `RPCStats` per overload (in first-seen order): counters summed, latencies joined,
    /// the latest last, keeping at most `latencyLimit`.
    static func merge(_ processes: [[RPCStats]], latencyLimit: Int = .max) -> [RPCStats] {
        var order: [String] = []
        var merged: [String: RPCStats] = [:]
        for stats in processes.joined() {
            let key = key(stats)
            if var known = merged[key] {
                known.calls += stats.calls
                known.errors += stats.errors
                known.timeouts += stats.timeouts
                known.latencies += stats.latencies
                if known.latencies.count > latencyLimit { known.latencies.removeFirst(known.latencies.count - latencyLimit) }
                merged[key] = known
            } else {
                order.append(key)
                merged[key] = stats
            }
        }
        return order.map { merged[$0]! }
    }
}
