import NIOConcurrencyHelpers
import Prometheus

/// `GET /metrics`: a supervisor's readings in Prometheus's text format (0.0.4), through
/// swift-prometheus's registry. Its counters only add, so each scrape adds what grew since the
/// last: counters by the difference, histograms by replaying each bucket's new calls at their
/// mean duration (so each bucket's count and the sum are exact).
final class MetricsExposition: Sendable {
    /// The upper bounds of `pyrpc_call_duration_seconds`' buckets (the board's, in seconds).
    static let durationBounds: [Double] = [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30]

    /// What the supervisor says besides the counts.
    struct Supervision: Sendable {
        /// Workers by state: serving, starting, retiring.
        var workers: [String: Int]
        var crashLoop: Bool
        var generation: Int
        /// The supervisor's own usage first, then its running children's.
        var processes: [ProcessUsage]
    }

    private struct Emitted {
        /// Each counter series' value so far.
        var counters: [String: Double] = [:]
        /// Each histogram bucket's calls and nanoseconds replayed so far.
        var buckets: [String: (calls: Int, nanoseconds: Int)] = [:]
    }

    private let registry = PrometheusCollectorRegistry()
    /// One scrape at a time: it reads, adds and emits as one.
    private let emitted = NIOLockedValueBox(Emitted())

    func render(_ reading: MetricsReading, _ supervision: Supervision) -> [UInt8] {
        emitted.withLockedValue { emitted in
            add(reading, supervision, &emitted)
            return registry.emitToBuffer()
        }
    }

    /// Takes in the calls counted since, without rendering: done every second, so that a scrape
    /// replays at most a second of calls into the histograms, however busy the server and rare
    /// the scrapes. (What the supervisor says of itself and its processes waits for a scrape.)
    func update(_ reading: MetricsReading) {
        emitted.withLockedValue { emitted in addCalls(reading, &emitted) }
    }

    private func add(_ reading: MetricsReading, _ supervision: Supervision, _ emitted: inout Emitted) {
        addCalls(reading, &emitted)
        addServer(reading, supervision, &emitted)
        addProcesses(reading, supervision, &emitted)
    }

    // MARK: Calls

    private func addCalls(_ reading: MetricsReading, _ emitted: inout Emitted) {
        let help = "RPC requests answered, by declared service and rpc (none for names not declared) and outcome: ok or the exception type."
        for rpc in reading.rpcs {
            let labels = rpc.rpc.isEmpty ? [("service", rpc.service)] : [("service", rpc.service), ("rpc", rpc.rpc)]
            for outcome in CallOutcome.allCases where outcome == .ok && !rpc.rpc.isEmpty || rpc.outcomes[outcome.rawValue] > 0 {
                count("pyrpc_calls_total", labels + [("outcome", outcome.label)], rpc.outcomes[outcome.rawValue], help: help, &emitted)
            }
            if !rpc.rpc.isEmpty { addDurations(rpc, labels: labels, &emitted) }
        }
        for outcome in CallOutcome.allCases where reading.unnamed[outcome.rawValue] > 0 {
            count("pyrpc_calls_total", [("outcome", outcome.label)], reading.unnamed[outcome.rawValue], help: help, &emitted)
        }
    }

    private func addDurations(_ rpc: MetricsReading.RPC, labels: [(String, String)], _ emitted: inout Emitted) {
        let histogram = registry.makeValueHistogram(
            descriptor: Self.named("pyrpc_call_duration_seconds", help: "How long calls took, from reading the request to the answer, by declared service and rpc."),
            labels: labels, buckets: Self.durationBounds)
        for bucket in rpc.buckets.indices {
            let key = "\(rpc.service)\u{0}\(rpc.rpc)\u{0}\(bucket)"
            let before = emitted.buckets[key] ?? (0, 0)
            let calls = rpc.buckets[bucket] - before.calls
            guard calls > 0 else { continue }
            let nanoseconds = rpc.nanoseconds[bucket] - before.nanoseconds
            // The mean of the new calls lies in their bucket; kept there against rounding.
            let lower = bucket == 0 ? 0 : Self.durationBounds[bucket - 1]
            let upper = bucket < Self.durationBounds.count ? Self.durationBounds[bucket] : .infinity
            let mean = min(upper, max(lower.nextUp, Double(nanoseconds) / Double(calls) / 1e9))
            for _ in 0..<calls { histogram.record(mean) }
            emitted.buckets[key] = (rpc.buckets[bucket], rpc.nanoseconds[bucket])
        }
    }

    // MARK: Connections, workers, deploys

    private func addServer(_ reading: MetricsReading, _ supervision: MetricsExposition.Supervision, _ emitted: inout Emitted) {
        gauge("pyrpc_connections_open", [], reading.connectionsOpen, help: "Client connections open on the RPC port.")
        count("pyrpc_connections_accepted_total", [], reading.connectionsAccepted, help: "Client connections accepted on the RPC port.", &emitted)
        for reason in RefusalReason.allCases {
            count("pyrpc_connections_refused_total", [("reason", reason.label)], reading.refused[reason.rawValue],
                  help: "Client connections refused or closed by the server for a limit, by reason.", &emitted)
        }
        gauge("pyrpc_calls_pending", [], reading.callsPending, help: "Calls queued for Python or running.")
        gauge("pyrpc_buffered_bytes", [], reading.bufferedBytes, help: "Bytes held for client connections: messages not yet whole, answers not yet sent.")
        for state in ["serving", "starting", "retiring"] {
            gauge("pyrpc_workers", [("state", state)], supervision.workers[state] ?? 0, help: "Worker processes, by state.")
        }
        for reason in WorkerRestart.allCases {
            count("pyrpc_worker_restarts_total", [("reason", reason.rawValue)], reading.restarts[reason] ?? 0,
                  help: "Worker processes replaced, by why: crash, harakiri, max_requests, max_rss, reload.", &emitted)
        }
        gauge("pyrpc_crash_loop", [], supervision.crashLoop ? 1 : 0, help: "1 while workers die as they start and their replacements back off, else 0.")
        gauge("pyrpc_generation", [], supervision.generation, help: "The generation of deployed RPCs served.")
        for outcome in DeployOutcome.allCases {
            count("pyrpc_deploys_total", [("result", outcome.label)], reading.deploys[outcome.rawValue], help: "Deploys answered, by result.", &emitted)
        }
        gauge("pyrpc_last_deploy_timestamp_seconds", [], reading.lastDeploy,
              help: "When the last deploy that changed the RPCs was applied (Unix seconds); 0: none since the server started.")
    }

    // MARK: Processes

    private func addProcesses(_ reading: MetricsReading, _ supervision: Supervision, _ emitted: inout Emitted) {
        let processes = supervision.processes
        let cpu = processes.reduce(reading.retiredCPUSeconds) { $0 + $1.cpuSeconds }
        let counter = registry.makeCounter(
            descriptor: Self.named("process_cpu_seconds_total", help: "Processor time (user and system) of the supervisor and its workers, including workers that are gone."),
            labels: [])
        // A worker reaped between the two readings is briefly in neither: never count backwards.
        let before = emitted.counters["process_cpu_seconds_total"] ?? 0
        if cpu > before {
            counter.increment(by: cpu - before)
            emitted.counters["process_cpu_seconds_total"] = cpu
        }
        registry.makeGauge(descriptor: Self.named("process_resident_memory_bytes", help: "Resident memory of the supervisor and its workers, in bytes."), labels: [])
            .set(Double(processes.reduce(0) { $0 + $1.residentBytes }))
        registry.makeGauge(descriptor: Self.named("process_open_fds", help: "Open file descriptors of the supervisor and its workers."), labels: [])
            .set(Double(processes.reduce(0) { $0 + $1.openDescriptors }))
        registry.makeGauge(descriptor: Self.named("process_start_time_seconds", help: "When the supervisor started (Unix seconds)."), labels: [])
            .set(processes.first?.startTime ?? 0)
    }

    // MARK: Series

    /// Counter `name` with `labels` reaches `value`.
    private func count(_ name: String, _ labels: [(String, String)], _ value: Int, help: String, _ emitted: inout Emitted) {
        let counter = registry.makeCounter(descriptor: Self.named(name, help: help), labels: labels)
        let key = ([name] + labels.map { "\($0.0)=\($0.1)" }).joined(separator: "\u{0}")
        let before = Int(emitted.counters[key] ?? 0)
        guard value > before else { return }
        counter.increment(by: Int64(value - before))
        emitted.counters[key] = Double(value)
    }

    /// A metric's full name (pyrpc's names carry their unit already) and its HELP text.
    private static func named(_ name: String, help: String) -> MetricNameDescriptor {
        MetricNameDescriptor(metricName: name, unitName: "", helpText: help)
    }

    private func gauge(_ name: String, _ labels: [(String, String)], _ value: Int, help: String) {
        registry.makeGauge(descriptor: Self.named(name, help: help), labels: labels).set(Double(value))
    }
}
