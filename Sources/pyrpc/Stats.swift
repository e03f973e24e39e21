import ArgumentParser
import Foundation
import PyRPCWire

/// `pyrpc stats [SERVER]`.
struct Stats: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Show per-RPC calls, errors, timeouts, p50/p99 latency, script hashes and uptime.")

    @OptionGroup var query: AdminQuery

    func run() async throws {
        let (replies, failures) = try await query.replies(Header.statsRequest, StatsReply.init)
        for (name, stats) in replies {
            print("\(name): up \(Int(stats.uptime)) s, generation \(stats.generation)")
            print("  rpc                 signature                       calls  errors  timeouts  p50 ms   p99 ms   hash")
            for rpc in stats.rpcs {
                let columns = [
                    pad("\(rpc.service).\(rpc.rpc)", 19), pad(rpc.signature, 31), pad("\(rpc.calls)", 6), pad("\(rpc.errors)", 7),
                    pad("\(rpc.timeouts)", 9), pad(rpc.p50.map { String(format: "%.3f", $0) } ?? "-", 8),
                    pad(rpc.p99.map { String(format: "%.3f", $0) } ?? "-", 8), String(rpc.hash.prefix(12)),
                ]
                print("  " + columns.joined(separator: " "))
            }
            if let supervision = stats.supervision { printWorkers(supervision) }
        }
        if failures > 0 { throw CLIExit(code: 3) }
    }

    /// A server with worker processes (`serve --processes`): one line per worker, restarts,
    /// and why the latest workers left.
    private func printWorkers(_ supervision: StatsReply.Supervision) {
        let (workers, restarts) = (supervision.workers, supervision.restarts)
        let loop = supervision.crashLoop ? " — CRASH LOOP: workers die as they start" : ""
        print("  \(workers.count) worker process\(workers.count == 1 ? "" : "es"), \(restarts) restart\(restarts == 1 ? "" : "s")\(loop)")
        for worker in workers {
            var columns = [
                "worker " + pad(worker.place.map(String.init) ?? "?", 3), "pid " + pad("\(worker.pid)", 8),
                "up " + pad("\(Int(worker.uptime)) s", 8), "calls " + pad("\(worker.calls)", 9),
                "rss " + pad(String(format: "%.1f MiB", worker.residentMegabytes), 11),
                "generation " + pad("\(worker.generation)", 4), "restarts \(worker.restarts)",
            ]
            if let last = worker.lastExit { columns.append("(last: \(last))") }
            if let leaving = worker.leaving { columns.append("— leaving: \(leaving)") }
            print("    " + columns.joined(separator: " "))
        }
        for exit in supervision.exits { print("    left: \(exit)") }
    }

    private func pad(_ text: String, _ width: Int) -> String {
        text.count >= width ? text : text + String(repeating: " ", count: width - text.count)
    }
}
