import Foundation
import NIOConcurrencyHelpers

/// What load balancers and service managers see of a supervised server: the operations port's
/// `/readyz`, and draining before a stop.
extension Supervisor {
    /// Why the server should get no new calls now, in one line; nil: it should (a worker
    /// serves and the server is not stopping).
    public func unreadiness() -> String? {
        if draining.withLockedValue({ $0 }) { return "draining: server \(name) is stopping" }
        if let reason = unattendedReason() { return "crash loop: \(reason)" }
        return workers.read { contents in
            if contents.stopping { return "stopping" }
            return contents.readyCount == 0 ? "starting: no worker of server \(name) serves yet" : nil
        }
    }

    /// SIGTERM: `/readyz` turns 503 at once, and the server goes on accepting and serving for
    /// `--drain-seconds`, so that balancers polling it move traffic away before it stops
    /// accepting. Returns early if `interrupted` ends first (a second signal).
    public func drain(interrupted: @escaping @Sendable () async -> Void) async {
        draining.withLockedValue { $0 = true }
        let seconds = options.drainSeconds
        guard seconds > 0 else { return }
        logger.info("draining for \(ServerCore.formatSeconds(seconds)) s: /readyz answers 503, calls are still served")
        // Whichever ends first: the drain, or the wait for another signal (which cannot be
        // cancelled, so it is left waiting rather than awaited, as a task group would).
        await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
            let pending = NIOLockedValueBox<CheckedContinuation<Void, Never>?>(continuation)
            let resume = { @Sendable in pending.withLockedValue { $0.take() }?.resume() }
            Task {
                try? await Task.sleep(for: .milliseconds(Int(seconds * 1000)))
                resume()
            }
            Task {
                await interrupted()
                resume()
            }
        }
    }

    /// `GET /metrics`: every process's counts with the supervisor's view of its workers.
    func metricsText() -> [UInt8] {
        let reading = metrics.read()
        let (workers, crashLoop) = self.workers.read { contents -> ([String: Int], Bool) in
            var states: [String: Int] = [:]
            for worker in contents.workers.values {
                states[worker.leaving != nil ? "retiring" : worker.ready ? "serving" : "starting", default: 0] += 1
            }
            return (states, contents.history.isCrashLoop)
        }
        let processes = [ProcessUsage("self")].compactMap { $0 } + reading.children.sorted().compactMap { ProcessUsage(String($0)) }
        let supervision = MetricsExposition.Supervision(
            workers: workers, crashLoop: crashLoop, generation: store.loadGeneration() ?? 0, processes: processes)
        return exposition.render(reading, supervision)
    }

    func startOperations() {
        guard let (host, port) = options.operations else { return }
        do {
            let server = try OperationsServer(
                host: host, port: port, unreadiness: { [weak self] in
                    guard let self else { return "supervisor gone" }
                    return self.unreadiness()
                },
                metrics: { [weak self] in self?.metricsText() ?? [] }, logger: logger)
            server.start()
            operations.withLockedValue { $0 = server }
            let folding = Thread { [weak self] in
                while let self, !server.isStopped {
                    Thread.sleep(forTimeInterval: 1)
                    exposition.update(metrics.read())
                }
            }
            folding.name = "pyrpc-metrics"
            folding.start()
        } catch {
            logger.error("cannot open the operations port on \(host):\(port): \(error)")
        }
    }
}
