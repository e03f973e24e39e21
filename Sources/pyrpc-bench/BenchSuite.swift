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
