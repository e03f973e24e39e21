import Foundation
import PyRPCClient
import PyRPCConfig
import PyRPCWire

/// Runs every workload and collects the rows of the report.
final class BenchSuite {
    let options: Bench
    let folder: URL
    let benchmarksFolder: URL
    var report = BenchReport()
    var servers: [ServerUnderTest] = []
    /// Made when a TLS server first needs them (`tlsCertificates`).
    var certificates: BenchCertificates?

    init(options: Bench) throws {
        self.options = options
        folder = FileManager.default.temporaryDirectory.appendingPathComponent("pyrpc-bench-\(getpid())")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        benchmarksFolder = BenchSuite.locateBenchmarks()
    }

    /// `benchmarks/` of the repository: from the working directory, else next to this source file.
    static func locateBenchmarks() -> URL {
        let here = URL(fileURLWithPath: FileManager.default.currentDirectoryPath).appendingPathComponent("benchmarks")
        if FileManager.default.fileExists(atPath: here.appendingPathComponent("ceiling/ceiling.c").path) { return here }
        return URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
            .appendingPathComponent("benchmarks")
    }

    static func machineDescription(pinned: Bool) -> String {
        let cpu = (try? String(contentsOfFile: "/proc/cpuinfo", encoding: .utf8))?
            .split(separator: "\n").first { $0.hasPrefix("model name") }?
            .split(separator: ":").last.map { $0.trimmingCharacters(in: .whitespaces) } ?? "unknown CPU"
        let placement = pinned ? "server pinned to core 0, load generator to core 1" : "nothing pinned"
        return "\(ProcessInfo.processInfo.activeProcessorCount) cores (\(cpu)); \(placement)"
    }

    func cleanUp() {
        for server in servers { server.stop() }
        try? FileManager.default.removeItem(at: folder)
    }

    // MARK: Requests

    static func request(_ rpc: String, _ arguments: [JSONValue], _ types: [String], _ returns: [String]) -> [UInt8] {
        RPCRequest(client: "c1", service: "bench", rpc: rpc, arguments: arguments, argumentTypes: types, returnTypes: returns).encoded()
    }

    let addRequest = BenchSuite.request("add", [2, 3], ["int", "int"], ["int"])

    /// 100,000 doubles as computations produce them, printed in full (shortest round-trip
    /// text, 15 to 17 significant digits, as Python's `repr` and `json.dumps` write them):
    /// square roots, the same bytes in every run. (Round values such as 0.25 read faster.)
    lazy var totalRequest: [UInt8] = {
        let values = (0..<100_000).map { JSONValue.float((Double($0) + 0.5).squareRoot() * 3.7) }
        return BenchSuite.request("total", [.array(values)], ["List[float]"], ["float"])
    }()

    static let total = "total(List[float]) 100,000 floats"
    static let totalMessagePack = total + " MessagePack"
    /// The same floats made into a list by CPython's own `array.tolist`, summed and freed,
    /// with nothing to read (`services/total_floor.py`): the interpreter's part of every
    /// `total` row, which no reader of the bytes can save.
    static let totalFloor = "total floor: CPython's tolist, sum, free"
    let totalFloorRequest = BenchSuite.request("total_floor", [], [], ["float"])
    static let addMessagePack = "add persistent c=8 MessagePack"
    /// The server of the build given by `--versus`.
    static let versusName = "pyrpc versus"

    /// A JSON request as a MessagePack connection's: the mark 0x00, then the frame (the load
    /// generator sends the mark on each new connection only, see `LoadGenerator`).
    static func messagePack(_ request: [UInt8]) -> [UInt8] {
        [0x00] + MessagePackFrame.frame(MessagePackWriter.encode(try! JSONParser.parse(request)))
    }

    lazy var echoRequest: [UInt8] = {
        let text = String(repeating: "pyrpc! ", count: 1_000_000 / 7 + 1).prefix(1_000_000)
        return BenchSuite.request("echo", [.string(String(text))], ["str"], ["str"])
    }()

    // MARK: Servers

    /// pyrpc with `add`, `total` and `echo` deployed, and `extra` rpcs importing from `venv`.
    /// `binary`: the pyrpc-bench whose server it is (`--versus`: another build's).
    func startPyRPC(label: String, binary: String = CommandLine.arguments[0], name: String = "pyrpc", venv: String? = nil,
                    extra: [(name: String, args: String, returns: String, src: String)] = []) async throws -> ServerUnderTest {
        let port = freePort()
        let state = folder.appendingPathComponent("state-\(label)")
        let server = try ServerUnderTest.launch(
            name: name, port: port,
            command: [binary, "serve-child", "--port", "\(port)", "--state-dir", state.path],
            log: folder.appendingPathComponent("\(label).log"))
        servers.append(server)
        let config = try writeNetwork(port: port, rpcs: [
            ("add", "[int, int]", "[int]", benchmarksFolder.appendingPathComponent("services/add.py").path),
            ("total", "[\"List[float]\"]", "[float]", benchmarksFolder.appendingPathComponent("services/total.py").path),
            ("echo", "[str]", "[str]", benchmarksFolder.appendingPathComponent("services/echo.py").path),
            ("total_floor", "[]", "[float]", benchmarksFolder.appendingPathComponent("services/total_floor.py").path),
        ] + extra, name: label, venv: venv)
        _ = try await Deployer.deploy(config, to: config.servers[0], token: nil)
        return server
    }

    func startCeiling() throws -> ServerUnderTest {
        let binary = folder.appendingPathComponent("ceiling").path
        let compile = Process()
        compile.executableURL = URL(fileURLWithPath: "/usr/bin/cc")
        compile.arguments = ["-O2", "-o", binary, benchmarksFolder.appendingPathComponent("ceiling/ceiling.c").path]
        try compile.run()
        compile.waitUntilExit()
        guard compile.terminationStatus == 0 else { throw BenchError("cannot compile the ceiling server (cc failed)") }
        let port = freePort()
        let server = try ServerUnderTest.launch(name: "C ceiling", port: port, command: [binary, "\(port)"], log: folder.appendingPathComponent("ceiling.log"))
        servers.append(server)
        return server
    }

    func startBaseline() throws -> ServerUnderTest {
        let table: [String: [String]] = [
            "bench.add(int,int)": [benchmarksFolder.appendingPathComponent("services/add.py").path, "add"],
            "bench.total(List[float])": [benchmarksFolder.appendingPathComponent("services/total.py").path, "total"],
            "bench.echo(str)": [benchmarksFolder.appendingPathComponent("services/echo.py").path, "echo"],
        ]
        let tablePath = folder.appendingPathComponent("baseline.json")
        try JSONSerialization.data(withJSONObject: table).write(to: tablePath)
        let python = FileManager.default.isExecutableFile(atPath: "/usr/bin/python3") ? "/usr/bin/python3" : "python3"
        let port = freePort()
        let server = try ServerUnderTest.launch(
            name: "Python baseline", port: port,
            command: [python, benchmarksFolder.appendingPathComponent("baseline/course_server.py").path, "\(port)", tablePath.path],
            log: folder.appendingPathComponent("baseline.log"))
        servers.append(server)
        return server
    }

    /// An init.yaml for one server `s1` at `port` with service `bench` (scripts importing from `venv`).
    func writeNetwork(port: Int, rpcs: [(name: String, args: String, returns: String, src: String)], name: String, venv: String? = nil) throws -> NetworkConfig {
        var yaml = venv.map { "python: {venv: \"\($0)\"}\n" } ?? ""
        yaml += """
            network:
              servers:
                - s1: {ip: 127.0.0.1, port: \(port)}
              clients:
                - c1: {ip: 127.0.0.1}
            service:
              - bench: {providers: [s1], tenants: [c1]}
            rpc:
              bench:

            """
        for rpc in rpcs {
            yaml += "    - \(rpc.name): {args: \(rpc.args), returns: \(rpc.returns), src: \"\(rpc.src)\"}\n"
        }
        let path = folder.appendingPathComponent("\(name).yaml")
        try yaml.write(to: path, atomically: true, encoding: .utf8)
        return try ConfigLoader.load(path: path.path)
    }

    // MARK: Workloads

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
            // There and back: every other round runs in the opposite order, so that no contender
            // always comes first, or always after the same neighbour. (In one fixed order pyrpc's
            // JSON row, always after the Python baseline, measured 8% dearer against the C ceiling.)
            let order = round % 2 == 0 ? Array(contenders.indices) : contenders.indices.reversed()
            for index in order {
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

        mutating func add(_ other: Sample) {
            load.add(other.load)
            cpuNanoseconds += other.cpuNanoseconds
            userNanoseconds += other.userNanoseconds
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
        let cpuBefore = server.cpuNanoseconds
        let userBefore = server.userNanoseconds
        let load = LoadGenerator.run(port: server.port, request: request, mode: mode, concurrency: concurrency, duration: duration, calls: calls, tls: tls)
        return Sample(load: load, cpuNanoseconds: server.cpuNanoseconds - cpuBefore, userNanoseconds: server.userNanoseconds - userBefore)
    }

    func record(_ workload: String, _ server: ServerUnderTest, _ sample: Sample) {
        let result = sample.load
        let row = BenchRow(
            workload: workload, server: server.name, calls: result.calls, failures: result.failures,
            callsPerSecond: result.callsPerSecond, p50: result.percentile(0.5), p99: result.percentile(0.99),
            cpuPerCall: sample.cpuPerCall, userPerCall: sample.userPerCall,
            rss: server.residentBytes, sample: result.firstAnswer, handshakes: result.handshakes, resumed: result.resumed)
        report.rows.append(row)
        say(row.consoleLine)
    }

    /// A comparison server, or nil with a note when this machine cannot run it (no C
    /// compiler, no python3): the pyrpc figures are still worth having.
    func comparison<Server>(_ name: String, _ start: () throws -> Server) -> Server? {
        do {
            return try start()
        } catch {
            say("skipping the \(name): \(error)")
            report.notes.append("The \(name) did not run on this machine: \(error)")
            return nil
        }
    }

    func wanted(_ workload: String) -> Bool {
        options.only.map { workload.localizedCaseInsensitiveContains($0) } ?? true
    }

    func runAll() async throws {
        let duration = options.duration
        let ours = try await startPyRPC(label: "main")
        // The same server under a supervisor, one worker: what `pyrpc serve` runs by default.
        let addWorkloads = ["add persistent c=1", "add persistent c=8", "add one-shot c=8"]
        let supervised = addWorkloads.contains(where: wanted) ? try await startSupervised(processes: 1) : nil
        // Another build's server (`--versus`), taking the turn after this build's in every add group.
        var versus: ServerUnderTest?
        if let binary = options.versus, addWorkloads.contains(where: wanted) {
            versus = try await startPyRPC(label: "versus", binary: binary, name: Self.versusName)
        }
        // The same with the operations port, scraped every second: the per-call cost of metrics.
        let scraped = wanted("add persistent c=8") ? try await startSupervisedWithMetrics() : nil
        let ceiling = options.skipComparisons ? nil : comparison("C ceiling", startCeiling)
        let baseline = options.skipComparisons ? nil : comparison("Python baseline", startBaseline)
        // The same workloads over TLS, and gRPC-Python plaintext and over TLS (BenchSuite+TLS).
        let oursTLS = Self.tlsWorkloads.contains(where: wanted) ? startPyRPCOverTLS(from: "main") : nil
        let (grpc, grpcTLS) = options.skipComparisons || !Self.grpcWorkloads.contains(where: wanted) ? (nil, nil) : startGRPC()

        // Each group's servers take turns; TLS rows join the plaintext ones they are compared with.
        let groups: [(LoadGenerator.Mode, Int, [Contender])] = [
            (.persistent, 1, Contender.all("add persistent c=1", [ours, versus, supervised, ceiling, baseline])),
            // The rows its targets compare take adjacent turns (JSON, MessagePack, the C ceiling),
            // so the VM's drift between turns moves them alike; the Python baseline, compared
            // only loosely, takes the far end, next to gRPC-Python over TLS, the heaviest server.
            (.persistent, 8, Contender.all("add persistent c=8", [ours, versus])
                + [ours, versus].compactMap { $0.map { Contender(workload: Self.addMessagePack, server: $0, request: Self.messagePack(addRequest)) } }
                + Contender.all("add persistent c=8", [ceiling, oursTLS, supervised, scraped?.server, grpc, grpcTLS, baseline])),
            (.oneShot, 8, Contender.all("add one-shot c=8", [ours, versus, supervised, ceiling, baseline, grpc])
                + Contender.all(Self.oneShotFullHandshake, [oursTLS, grpcTLS], handshakes: .full)
                + Contender.all(Self.oneShotResumed, [oursTLS], handshakes: .resumed)),
        ]
        for (mode, concurrency, contenders) in groups {
            let chosen = contenders.filter { wanted($0.workload) }
            if chosen.isEmpty { continue }
            measureInTurns(chosen, request: addRequest, grpc: .add, mode: mode, concurrency: concurrency, duration: duration, rounds: options.rounds)
        }
        // `total` over JSON and over MessagePack (float64s instead of decimal text), in the same
        // turns as gRPC-Python's binary doubles.
        let totals = Contender.all(Self.total, [ours, oursTLS, baseline, grpc, grpcTLS])
            + [Contender(workload: Self.totalMessagePack, server: ours, request: Self.messagePack(totalRequest)),
               Contender(workload: Self.totalFloor, server: ours, request: totalFloorRequest)]
        let chosenTotals = totals.filter { wanted($0.workload) }
        if !chosenTotals.isEmpty {
            measureInTurns(chosenTotals, request: totalRequest, grpc: .total, mode: .persistent, concurrency: 1, calls: options.largeCalls)
        }
        // A numpy array as the result (its own server, with the numpy venv: NumpyWorkloads).
        if wanted(Self.outerJSON) || wanted(Self.outerMessagePack) { try await numpyWorkloads(duration: duration) }
        for server in [ours, baseline].compactMap({ $0 }) where wanted("echo(str) 1 MB") {
            measure("echo(str) 1 MB", server, request: echoRequest, mode: .persistent, concurrency: 1, calls: options.largeCalls)
        }
        ours.stop()
        supervised?.stop()
        scraped?.scraper.stop()
        scraped?.server.stop()
        ceiling?.stop()
        baseline?.stop()
        for server in [oursTLS, grpc, grpcTLS] { server?.stop() }

        if wanted("spin") || wanted("worker crash") { try await processWorkloads(duration: duration) }

        if Self.faultWorkloadNames.contains(where: wanted) { try await faultWorkloads() }
        if wanted("deploy") { try await deployWorkload() }
        if wanted("metrics scrape") { try await scrapeWorkload() }
        if wanted("RSS") { try await memoryWorkloads() }
    }

    /// Deploy of N RPCs (one script each): first, unchanged, one changed.
    func deployWorkload() async throws {
        let server = try await startPyRPC(label: "deploy")
        let scripts = folder.appendingPathComponent("many")
        try FileManager.default.createDirectory(at: scripts, withIntermediateDirectories: true)
        var rpcs: [(String, String, String, String)] = []
        for index in 0..<options.deployRPCs {
            let path = scripts.appendingPathComponent("f\(index).py").path
            try "def f\(index)(x):\n    return x + \(index)\n".write(toFile: path, atomically: true, encoding: .utf8)
            rpcs.append(("f\(index)", "[int]", "[int]", path))
        }
        let config = try writeNetwork(port: server.port, rpcs: rpcs, name: "many")
        for step in ["first", "unchanged", "one changed"] {
            if step == "one changed" {
                try "def f0(x):\n    return x - 1\n".write(toFile: rpcs[0].3, atomically: true, encoding: .utf8)
            }
            let started = Date()
            let summary = try await Deployer.deploy(config, to: config.servers[0], token: nil)
            let seconds = Date().timeIntervalSince(started)
            report.deploys.append(DeployRow(
                step: step, rpcs: options.deployRPCs, seconds: seconds, roundTrips: summary.roundTrips,
                scriptBytes: summary.scriptBytesSent, bytes: summary.bytesSent))
            say("deploy \(options.deployRPCs) rpcs, \(step): \(String(format: "%.3f", seconds)) s, \(summary.roundTrips) round trips, \(summary.scriptBytesSent) script bytes")
        }
        server.stop()
    }

    /// RSS after 10,000 and after `longCalls` calls; RSS across `swaps` hot swaps.
    func memoryWorkloads() async throws {
        let server = try await startPyRPC(label: "memory")
        _ = LoadGenerator.run(port: server.port, request: addRequest, mode: .persistent, concurrency: 8, calls: 10_000)
        let after10k = server.residentBytes
        let started = Date()
        _ = LoadGenerator.run(port: server.port, request: addRequest, mode: .persistent, concurrency: 8, calls: max(0, options.longCalls - 10_000))
        let afterLong = server.residentBytes
        report.memory.append(MemoryRow(what: "\(options.longCalls.formatted()) calls", firstLabel: "after 10,000", first: after10k, secondLabel: "after \(options.longCalls.formatted())", second: afterLong))
        say("RSS after 10k calls \(after10k / 1024) KiB, after \(options.longCalls) calls \(afterLong / 1024) KiB (\(Int(Date().timeIntervalSince(started))) s)")

        // Hot swaps: each deploy replaces one script with new text, loading a new module
        // and retiring the old one.
        let swapScript = folder.appendingPathComponent("swap.py")
        var rpcs: [(String, String, String, String)] = [("swap", "[int]", "[int]", swapScript.path)]
        rpcs.append(("add", "[int, int]", "[int]", benchmarksFolder.appendingPathComponent("services/add.py").path))
        let config = try writeNetwork(port: server.port, rpcs: rpcs, name: "swap")
        // 100 warm-up swaps fill the allocators' caches; the next `swaps` are measured.
        let warmUp = 100
        var early = 0
        for index in 0..<(warmUp + options.swaps) {
            try "state = list(range(1000))\n\ndef swap(x):\n    return x + \(index)\n".write(to: swapScript, atomically: true, encoding: .utf8)
            _ = try await Deployer.deploy(config, to: config.servers[0], token: nil)
            if index == warmUp - 1 { early = server.residentBytes }
        }
        let afterSwaps = server.residentBytes
        report.memory.append(MemoryRow(
            what: "\(options.swaps.formatted()) hot swaps", firstLabel: "after \(warmUp) warm-up swaps", first: early,
            secondLabel: "after \((warmUp + options.swaps).formatted())", second: afterSwaps))
        say("RSS after \(warmUp) swaps \(early / 1024) KiB, after \(warmUp + options.swaps) swaps \(afterSwaps / 1024) KiB")
        server.stop()
    }
}
