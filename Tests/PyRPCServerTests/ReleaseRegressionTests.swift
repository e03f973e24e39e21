import Foundation
import PyRPCClient
import PyRPCConfig
import PyRPCWire
import Synchronization
import XCTest

#if canImport(Glibc)
import Glibc
#endif

/// What once broke only in the release build, checked on the real binary: `pyrpc up` pinned
/// to one core, deploys in a row, and hot swaps while clients call. `.ci/run` runs these a
/// second time against the release binary (`PYRPC_BINARY`).
final class ReleaseRegressionTests: XCTestCase {
    var folder: URL!
    var port = 0

    override func setUp() async throws {
        folder = try makeTemporaryFolder()
        port = CLIProcess.freePort()
    }

    override func tearDown() async throws {
        try? FileManager.default.removeItem(at: folder)
    }

    /// One server; `swap.version` returns `version`, `steady.ping` never changes, and
    /// `steady.modules` lists this server's script modules in `sys.modules`.
    private func writeNetwork(version: String) throws {
        let yaml = """
            network:
              servers:
                - s1: {ip: 127.0.0.1, port: \(port)}
              clients:
                - c1: {ip: 127.0.0.1}
            service:
              - swap: {providers: [s1], tenants: [c1], rpcs: [version]}
              - steady: {providers: [s1], tenants: [c1], rpcs: [ping, modules]}
            rpc:
              - version: {args: [], returns: [str], src: version.py}
              - ping: {args: [], returns: [str], src: ping.py}
              - modules: {args: [], returns: [List[str]], src: modules.py}
            """
        let files = [
            "init.yaml": yaml,
            "version.py": "def version():\n    return '\(version)'\n",
            "ping.py": "def ping():\n    return 'pong'\n",
            "modules.py": "import sys\n\ndef modules():\n    return sorted(m for m in sys.modules if m.startswith('pyrpc_s1_'))\n",
        ]
        try writeFiles(files, in: folder)
    }

    private func serve() throws -> Process {
        let state = folder.appendingPathComponent("state").path
        let process = try CLIProcess.start(["serve", "s1", "--state-dir", state, "--log-level", "warning"], in: folder)
        XCTAssertTrue(CLIProcess.waitForPort(port), "serve did not start: \(CLIProcess.contents(folder.appendingPathComponent("server.err")))")
        return process
    }

    /// Calls a no-argument RPC on `socket` and returns its answer.
    private func call(_ service: String, _ rpc: String, returns: String = "str", on socket: RawSocket) throws -> JSONValue {
        try socket.send(requestLine(service: service, rpc: rpc, arguments: [], types: [], returns: [returns]) + "\n")
        return try JSONParser.parse(socket.readLine())
    }

    private func stop(_ process: Process) {
        kill(process.processIdentifier, SIGTERM)
        process.waitUntilExit()
        XCTAssertEqual(process.terminationReason, .exit, "stopped by a signal")
        XCTAssertEqual(process.terminationStatus, 0)
    }

    func testUpPinnedToOneCoreStartsFiveTimes() throws {
        let taskset = "/usr/bin/taskset"
        guard FileManager.default.isExecutableFile(atPath: taskset) else {
            throw XCTSkip("\(taskset) is not installed (util-linux): cannot pin pyrpc up to one core")
        }
        try writeNetwork(version: "v1")
        for start in 1...5 {
            let state = folder.appendingPathComponent("state\(start)").path
            let up = try CLIProcess.start(
                ["up", "init.yaml", "--state-dir", state, "--log-level", "warning"], in: folder, logName: "up\(start)",
                prefix: [taskset, "-c", "0"])
            let output = folder.appendingPathComponent("up\(start).out")
            let started = CLIProcess.waitForOutput("Stop with Ctrl-C.", in: output, of: up)
            XCTAssertTrue(started, "start \(start) of pyrpc up pinned to one core failed:\n\(CLIProcess.contents(output))\(CLIProcess.contents(folder.appendingPathComponent("up\(start).err")))")
            guard started else {
                if up.isRunning { up.terminate() }
                return
            }
            XCTAssertTrue(CLIProcess.contents(output).contains("s1         1    3"), CLIProcess.contents(output))
            let socket = try RawSocket(host: "127.0.0.1", port: port)
            XCTAssertEqual(try call("swap", "version", on: socket).returnValues, [.string("v1")])
            XCTAssertEqual(try call("steady", "ping", on: socket).returnValues, [.string("pong")])
            socket.close()
            kill(up.processIdentifier, SIGINT)
            up.waitUntilExit()
            XCTAssertEqual(up.terminationReason, .exit, "start \(start): pyrpc up ended by a signal")
            XCTAssertEqual(up.terminationStatus, 0, "start \(start)")
        }
    }

    func testTenDeploysInARowAndUnchangedOnesKeepTheGeneration() throws {
        try writeNetwork(version: "v0")
        let server = try serve()
        defer { if server.isRunning { server.terminate() } }
        var generation = 0
        for round in 0..<10 {
            // Even rounds change the script; odd rounds deploy the same file again.
            let changes = round % 2 == 0
            if changes {
                try writeNetwork(version: "v\(round)")
                generation += 1
            }
            let deploy = try CLIProcess.run(["deploy"], in: folder)
            XCTAssertEqual(deploy.status, 0, "deploy \(round): \(deploy.stdout)\(deploy.stderr)")
            let line = changes ? "s1: generation \(generation) live" : "s1: generation \(generation) unchanged"
            XCTAssertTrue(deploy.stdout.contains(line), "deploy \(round) should say '\(line)':\n\(deploy.stdout)")
            XCTAssertTrue(deploy.stdout.contains("s1         \(generation)"), "deploy \(round) has no report row:\n\(deploy.stdout)")
            let socket = try RawSocket(host: "127.0.0.1", port: port)
            XCTAssertEqual(try call("swap", "version", on: socket).returnValues, [.string("v\(round - round % 2)")])
            socket.close()
        }
        stop(server)
    }

    /// 120 hot swaps while 4 persistent connections call the swapped RPC and an unchanged
    /// one: no call fails, both versions answer, and afterwards only the live version's
    /// module is left in `sys.modules`.
    func testSwapsWhileClientsCallLoseNoCallAndUnloadEveryRetiredModule() async throws {
        try writeNetwork(version: "v1")
        let server = try serve()
        defer { if server.isRunning { server.terminate() } }
        let config = try ConfigLoader.load(path: folder.appendingPathComponent("init.yaml").path)
        let node = try XCTUnwrap(config.server(named: "s1"))
        _ = try await Deployer.deploy(config, to: node, token: nil)

        let tally = CallTally()
        let port = self.port
        let callers = (0..<4).map { index in
            Thread {
                do {
                    let socket = try RawSocket(host: "127.0.0.1", port: port)
                    defer { socket.close() }
                    var turn = 0
                    while !tally.isStopped {
                        let (service, rpc) = turn % 2 == 0 ? ("swap", "version") : ("steady", "ping")
                        turn += 1
                        try socket.send(requestLine(service: service, rpc: rpc, arguments: [], types: [], returns: ["str"], id: .int(turn)) + "\n")
                        let answer = try JSONParser.parse(socket.readLine())
                        tally.record(answer, expectedID: turn, rpc: rpc)
                    }
                } catch {
                    tally.fail("caller \(index): \(error)")
                }
                tally.finished()
            }
        }
        for caller in callers { caller.start() }

        var swaps = 0
        for round in 0..<120 {
            try writeNetwork(version: round % 2 == 0 ? "v2" : "v1")
            let network = try ConfigLoader.load(path: folder.appendingPathComponent("init.yaml").path)
            let summary = try await Deployer.deploy(network, to: node, token: nil)
            XCTAssertTrue(summary.changed)
            XCTAssertEqual(summary.replaced, 1)
            swaps += 1
        }
        tally.stop()
        XCTAssertTrue(tally.waitForCallers(4, timeout: 30), "callers did not finish")

        let result = tally.snapshot
        XCTAssertEqual(result.failures, [], "\(result.failures.count) failed calls")
        XCTAssertTrue(result.versions.isSuperset(of: ["v1", "v2"]), "versions seen: \(result.versions)")
        XCTAssertGreaterThan(result.pings, 0)
        print("\(swaps) swaps under load: \(result.calls) calls, 0 failed, versions \(result.versions.sorted())")

        // Retired generations are released once their last call ends: poll with a deadline.
        let liveHash = ScriptHash.sha256(try String(contentsOf: folder.appendingPathComponent("version.py"), encoding: .utf8))
        let socket = try RawSocket(host: "127.0.0.1", port: port)
        defer { socket.close() }
        var modules: [String] = []
        let deadline = Date().addingTimeInterval(10)
        repeat {
            modules = (try call("steady", "modules", returns: "List[str]", on: socket).returnValues?.first?.arrayValue ?? []).compactMap(\.stringValue)
            if modules.filter({ $0.hasPrefix("pyrpc_s1_version_") }) == ["pyrpc_s1_version_\(liveHash.prefix(12))"] { break }
            usleep(20_000)
        } while Date() < deadline
        XCTAssertEqual(modules.filter { $0.hasPrefix("pyrpc_s1_version_") }, ["pyrpc_s1_version_\(liveHash.prefix(12))"], "retired modules left: \(modules)")
        XCTAssertEqual(modules.filter { $0.hasPrefix("pyrpc_s1_ping_") }.count, 1, "\(modules)")
        stop(server)
    }
}

/// What the calling threads saw, shared with the test. (NSLock, not Mutex: ThreadSanitizer
/// sees pthread locks, not Synchronization's futex, and `scripts/sanitize` runs this too.)
private final class CallTally: @unchecked Sendable {
    struct Snapshot {
        var calls = 0
        var pings = 0
        var versions: Set<String> = []
        var failures: [String] = []
        var finishedCallers = 0
    }

    private let lock = NSLock()
    private var state = Snapshot()
    private let stopped = Atomic<Bool>(false)

    var isStopped: Bool { stopped.load(ordering: .acquiring) }
    var snapshot: Snapshot { lock.withLock { state } }

    func stop() { stopped.store(true, ordering: .releasing) }

    func record(_ answer: JSONValue, expectedID: Int, rpc: String) {
        lock.withLock {
            state.calls += 1
            guard answer.header == "RPC-RES", answer["value"]?["id"] == .int(expectedID),
                  let value = answer.returnValues?.first?.stringValue
            else {
                if state.failures.count < 20 { state.failures.append("\(rpc): \(answer.jsonText)") }
                return
            }
            if rpc == "ping" {
                if value == "pong" { state.pings += 1 } else { state.failures.append("ping answered \(value)") }
            } else {
                state.versions.insert(value)
            }
        }
    }

    func fail(_ message: String) {
        lock.withLock { state.failures.append(message) }
    }

    func finished() {
        lock.withLock { state.finishedCallers += 1 }
    }

    func waitForCallers(_ count: Int, timeout: Double) -> Bool {
        let deadline = Date().addingTimeInterval(timeout)
        while Date() < deadline {
            if snapshot.finishedCallers == count { return true }
            usleep(10_000)
        }
        return false
    }
}
