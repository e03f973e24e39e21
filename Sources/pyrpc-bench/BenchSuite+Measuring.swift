import Foundation

/// Measuring: one load against one server, or every contender of a group in turns, and the
/// rows and per-turn figures they leave in the report.
extension BenchSuite {
    /// Runs one load against `server` and records a row: throughput, latency, server CPU per call, RSS.
    /// `grpc`: the same call for a gRPC server.
    func measure(_ workload: String, _ server: ServerUnderTest, request: [UInt8], grpc: GRPCClient.Call? = nil, mode: LoadGenerator.Mode,
                 concurrency: Int, duration: Double? = nil, calls: Int? = nil) {
        record(workload, server, sample(server, request: request, grpc: grpc, mode: mode, concurrency: concurrency, duration: duration, calls: calls))
    }

    /// Runs `workload` against every server in turn, `rounds` times, each for its share of
    /// `duration`, and records each server's rounds added up. This VM's speed drifts over
    /// minutes: in turns, a drift moves every server's figures alike instead of favouring
    /// whichever ran first.
    func measureInTurns(_ workload: String, _ servers: [ServerUnderTest], request: [UInt8], mode: LoadGenerator.Mode,
                        concurrency: Int, duration: Double, rounds: Int = 3) {
        measureInTurns(Contender.all(workload, servers), request: request, mode: mode, concurrency: concurrency, duration: duration, rounds: rounds)
    }

    /// The same, for contenders that may fill rows of different names (plaintext, TLS with
    /// full handshakes, TLS resumed): measured in the same turns, their ratios hold.
    /// `calls` instead of `duration`: that many calls in all, shared out among the rounds.
    func measureInTurns(_ contenders: [Contender], request: [UInt8], grpc: GRPCClient.Call? = nil, mode: LoadGenerator.Mode,
                        concurrency: Int, duration: Double? = nil, calls: Int? = nil, rounds: Int = 3) {
        var totals = Array(repeating: Sample(), count: contenders.count)
        for round in 0..<rounds {
            for index in Self.turnOrder(round: round, contenders: contenders.count) {
                let contender = contenders[index]
                let turn = sample(contender.server, request: contender.request ?? request, grpc: grpc, mode: mode, concurrency: concurrency,
                                  duration: duration.map { $0 / Double(rounds) }, calls: calls.map { max(1, $0 / rounds) },
                                  handshakes: contender.handshakes)
                totals[index].add(turn)
                report.turns[BenchReport.Key(contender.workload, contender.server.name), default: []].append(turn.cpuPerCall)
            }
        }
        for (contender, total) in zip(contenders, totals) { record(contender.workload, contender.server, total) }
    }

    /// The order of the contenders' turns in `round`: there and back, every other round in
    /// the opposite order, so that no contender always comes first, or always after the same
    /// neighbour. (In one fixed order pyrpc's JSON row, always after the Python baseline,
    /// measured 8% dearer against the C ceiling.)
    static func turnOrder(round: Int, contenders: Int) -> [Int] {
        round % 2 == 0 ? Array(0..<contenders) : (0..<contenders).reversed()
    }

    /// A server in a group measured in turns, the row it fills, and how its clients
    /// handshake if it speaks TLS.
    struct Contender {
        let workload: String
        let server: ServerUnderTest
        var handshakes = TLSHandshakes.resumed
        /// Its own request instead of the group's (the same call over MessagePack).
        var request: [UInt8]?

        /// The servers that run (nil: not started), in order.
        static func all(_ workload: String, _ servers: [ServerUnderTest?], handshakes: TLSHandshakes = .resumed) -> [Contender] {
            servers.compactMap { $0.map { Contender(workload: workload, server: $0, handshakes: handshakes) } }
        }
    }

    /// One warmed-up load run and the server CPU it cost.
    struct Sample {
        var load = LoadResult()
        var cpuNanoseconds: UInt64 = 0
        var userNanoseconds: UInt64 = 0
        /// By kind of thread (empty for a gRPC server, whose load comes from its own client).
        var threads: [String: ThreadUse] = [:]

        mutating func add(_ other: Sample) {
            load.add(other.load)
            cpuNanoseconds += other.cpuNanoseconds
            userNanoseconds += other.userNanoseconds
            for (kind, use) in other.threads { threads[kind, default: ThreadUse()].add(use) }
        }

        /// Seconds of server CPU per call, and of its user-space part (0 without calls).
        var cpuPerCall: Double { perCall(cpuNanoseconds) }
        var userPerCall: Double { perCall(userNanoseconds) }

        private func perCall(_ nanoseconds: UInt64) -> Double {
            load.calls > 0 ? Double(nanoseconds) / 1e9 / Double(load.calls) : 0
        }
    }

    func sample(_ server: ServerUnderTest, request: [UInt8], grpc: GRPCClient.Call? = nil, mode: LoadGenerator.Mode, concurrency: Int,
                duration: Double? = nil, calls: Int? = nil, handshakes: TLSHandshakes = .resumed) -> Sample {
        if let client = server.grpcClient {
            guard let grpc else { preconditionFailure("\(server.name) is measured with a call that has no gRPC form") }
            return client.sample(server, call: grpc, mode: mode, concurrency: concurrency, duration: duration, calls: calls)
        }
        // One TLS setting for the warm-up and the run: resumed connections resume from the first.
        let tls = server.tlsCA.map { handshakes.load(ca: $0) }
        // Warm up (connections, caches, lazy imports) without counting.
        _ = LoadGenerator.run(port: server.port, request: request, mode: mode, concurrency: concurrency, calls: max(concurrency * 20, 50), tls: tls)
        let threadsBefore = server.threadClocks
        let cpuBefore = server.cpuNanoseconds
        let userBefore = server.userNanoseconds
        let load = LoadGenerator.run(port: server.port, request: request, mode: mode, concurrency: concurrency, duration: duration, calls: calls, tls: tls)
        let cpu = server.cpuNanoseconds - cpuBefore
        let user = server.userNanoseconds - userBefore
        return Sample(load: load, cpuNanoseconds: cpu, userNanoseconds: user, threads: ThreadUse.between(threadsBefore, server.threadClocks))
    }

    func record(_ workload: String, _ server: ServerUnderTest, _ sample: Sample) {
        let result = sample.load
        let row = BenchRow(
            workload: workload, server: server.name, calls: result.calls, failures: result.failures,
            callsPerSecond: result.callsPerSecond, p50: result.percentile(0.5), p99: result.percentile(0.99),
            cpuPerCall: sample.cpuPerCall, userPerCall: sample.userPerCall,
            rss: server.residentBytes, unexpectedAnswer: result.firstUnexpected, handshakes: result.handshakes, resumed: result.resumed,
            threads: sample.threads)
        report.rows.append(row)
        say(row.consoleLine)
    }
}
