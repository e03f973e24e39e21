import Foundation

/// The report's table of where pyrpc's server CPU goes, by kind of thread.
extension BenchReport {
    /// The rows it covers: the single-process server on the workloads issue targets are on,
    /// and the same server under a supervisor (`pyrpc` and the worker's threads together).
    static let threadWorkloads = ["add persistent c=8", BenchSuite.addMessagePack, "add one-shot c=8", BenchSuite.total, BenchSuite.totalMessagePack]
    static let threadServers = ["pyrpc", "pyrpc --processes 1"]

    func threadTable() -> String {
        let covered = rows.filter { Self.threadServers.contains($0.server) && !$0.threads.isEmpty && Self.threadWorkloads.contains($0.workload) }
        guard !covered.isEmpty else { return "" }
        var text = "\n## Where pyrpc's server CPU goes, by thread\n\n"
        text += "From /proc/PID/task/* (a supervisor's and its worker's together): each kind of thread's CPU time (`io-s1-#`: the I/O loops, which also run quick calls; `py-s1-#`: the Python workers that take slow ones; `watch-s1`: the watchdog) and its context switches (voluntary and not), per call. Kinds under 1% of a row are summed as \"other\".\n\n"
        text += "| workload | server | thread | threads | CPU µs/call | share | switches/call |\n|---|---|---|---:|---:|---:|---:|\n"
        for row in covered {
            let calls = Double(max(row.calls, 1))
            let total = Double(max(row.threads.values.map(\.cpuNanoseconds).reduce(0, +), 1))
            var shown = row.threads.sorted { $0.value.cpuNanoseconds > $1.value.cpuNanoseconds }
            var other = ThreadUse()
            var others: [String] = []
            shown.removeAll { kind, use in
                guard Double(use.cpuNanoseconds) < 0.01 * total else { return false }
                other.include(use)
                others.append(kind)
                return true
            }
            if !others.isEmpty { shown.append(("other: \(others.sorted().joined(separator: ", "))", other)) }
            for (kind, use) in shown {
                text += String(format: "| %@ | %@ | %@ | %d | %@ | %.1f%% | %.3f |\n", row.workload, row.server, kind, use.threads, micros(Double(use.cpuNanoseconds) / 1e9 / calls),
                               100 * Double(use.cpuNanoseconds) / total, Double(use.switches) / calls)
            }
        }
        return text
    }
}
