import Foundation
import PyRPCClient
import PyRPCWire

#if canImport(Glibc)
import Glibc
#endif

/// Workers that leave or die under load (issue 21): crashed calls answered, recycling and
/// SIGHUP without a failed call or a reconnect, a restart that always gets its port.
extension BenchSuite {
    static let faultWorkloadNames = ["crashed calls", "recycling", "SIGHUP", "restart after kill -9"]

    /// `pyrpc serve` with add, who and segv, `processes` workers and `extra` flags.
    private func startFaultServer(_ label: String, processes: Int, extra: [String] = []) async throws -> ServerUnderTest {
        let port = freePort()
        let services = benchmarksFolder.appendingPathComponent("services")
        let config = try writeNetwork(port: port, rpcs: [
            ("add", "[int, int]", "[int]", services.appendingPathComponent("add.py").path),
            ("who", "[int]", "[int]", services.appendingPathComponent("who.py").path),
            ("segv", "[]", "[int]", services.appendingPathComponent("segv.py").path),
        ], name: label)
        let server = try ServerUnderTest.launch(
            name: "pyrpc \(label)", port: port,
            command: [pyrpcBinary, "serve", "s1", "--config", folder.appendingPathComponent("\(label).yaml").path,
                      "--state-dir", folder.appendingPathComponent("state-\(label)").path, "--processes", "\(processes)"] + extra,
            log: folder.appendingPathComponent("\(label).log"), pinned: false, withChildren: true)
        servers.append(server)
        _ = try await Deployer.deploy(config, to: config.servers[0], token: nil)
        return server
    }

    private var pyrpcBinary: String {
        URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent().appendingPathComponent("pyrpc").path
    }

    func faultWorkloads() async throws {
        if wanted("crashed calls") {
            for processes in [2, 1] { try await crashedCalls(processes: processes) }
        }
        if wanted("recycling") { try await pipelinedThroughDepartures("recycling", extra: ["--max-requests", "1000"], signals: 0) }
        if wanted("SIGHUP") { try await pipelinedThroughDepartures("SIGHUP", extra: [], signals: 2) }
        if wanted("restart after kill -9") { try await restartAfterKill() }
    }

    /// 50 segfaulting calls in a row from one client while another calls `add` continuously.
    private func crashedCalls(processes: Int) async throws {
        let server = try await startFaultServer("crashes-\(processes)", processes: processes)
        defer { server.stop() }
        let caller = AddCaller(port: server.port, request: addRequest)
        let segv = Self.request("segv", [], [], ["int"])
        var answered = 0
        for _ in 0..<50 {
            guard let socket = LineSocket(port: server.port) else { continue }
            if socket.send(segv), let line = socket.readLine(), line.contains("bench.segv() killed its worker: SIGSEGV") {
                answered += 1
            }
            socket.close()
        }
        let (calls, failed, longestWait) = caller.stop()
        report.notes.append(String(
            format: "50 segfaulting calls in a row with %d worker%@, while another client calls add on one connection: %d of 50 answered Execution Exception naming SIGSEGV; add: %d calls, %d failed, longest wait for an answer %.0f ms.",
            processes, processes == 1 ? "" : "s", answered, calls, failed, longestWait * 1000))
        say(report.notes.last!)
    }

    /// 4 pipelining clients, 1,500 calls each at 200 calls a second, while workers leave:
    /// recycled (`--max-requests 1000`), or replaced by `signals` SIGHUPs.
    private func pipelinedThroughDepartures(_ label: String, extra: [String], signals: Int) async throws {
        let server = try await startFaultServer(label, processes: 2, extra: extra)
        defer { server.stop() }
        let clients = (0..<4).map { _ in PacedPipeliner(port: server.port, calls: 1500, rate: 200) }
        for _ in 0..<signals {
            usleep(2_000_000)
            kill(server.pid, SIGHUP)
        }
        for client in clients { client.wait() }
        let pids = clients.reduce(into: Set<Int>()) { $0.formUnion($1.pids) }
        report.notes.append(String(
            format: "%@ under load (2 workers%@, 4 persistent pipelining clients at 200 calls/s each, 6,000 calls): %d answered, %d failed, %d reconnects, %d worker pids answered.",
            label == "SIGHUP" ? "\(signals) SIGHUPs" : "Recycling", extra.isEmpty ? "" : " " + extra.joined(separator: " "),
            clients.reduce(0) { $0 + $1.answered }, clients.reduce(0) { $0 + $1.failed }, clients.reduce(0) { $0 + $1.reconnects }, pids.count))
        say(report.notes.last!)
    }

    /// `kill -9` of the supervisor alone (its worker orphaned, finishing), then `serve` at once
    /// on the same port and state: how long until it answers, over `restartTrials` trials.
    private func restartAfterKill() async throws {
        let port = freePort()
        let label = "restart"
        let services = benchmarksFolder.appendingPathComponent("services")
        let config = try writeNetwork(port: port, rpcs: [("who", "[int]", "[int]", services.appendingPathComponent("who.py").path)], name: label)
        let command = [pyrpcBinary, "serve", "s1", "--config", folder.appendingPathComponent("\(label).yaml").path,
                       "--state-dir", folder.appendingPathComponent("state-\(label)").path, "--processes", "1"]
        var server = try ServerUnderTest.launch(name: "pyrpc restart", port: port, command: command, log: folder.appendingPathComponent("restart.log"), pinned: false, withChildren: true)
        _ = try await Deployer.deploy(config, to: config.servers[0], token: nil)
        let who = Self.request("who", [.int(0)], ["int"], ["int"])
        /// Whether a fresh connection is answered by a worker of `server` (not an orphan).
        func servedByItsWorker(_ server: ServerUnderTest) -> Bool {
            guard let line = Self.answer(port: port, request: who), let answer = try? JSONParser.parse(line),
                  case .int(let pid)? = answer["value"]?["return-values"]?.arrayValue?.first else { return false }
            return ProcessProbe.children(server.pid).contains(Int32(pid % 10_000_000))
        }
        var times: [Double] = []
        for trial in 0..<options.restartTrials {
            let ready = Date()
            while !servedByItsWorker(server), Date().timeIntervalSince(ready) < 30 { usleep(5_000) }
            kill(server.pid, SIGKILL)
            server.process.waitUntilExit()
            let killed = Date()
            server = try ServerUnderTest.launch(name: "pyrpc restart", port: port, command: command, log: folder.appendingPathComponent("restart-\(trial % 2).log"), pinned: false, withChildren: true)
            while !servedByItsWorker(server), Date().timeIntervalSince(killed) < 30 { usleep(5_000) }
            times.append(Date().timeIntervalSince(killed))
        }
        server.stop()
        times.sort()
        report.notes.append(String(
            format: "kill -9 of the supervisor, then pyrpc serve at once on the same port and state (%d trials): its own worker answering after %.2f s median, %.2f s at worst; %d trials over 2 s.",
            times.count, times.isEmpty ? 0 : times[times.count / 2], times.last ?? 0, times.filter { $0 > 2 }.count))
        say(report.notes.last!)
    }
}

/// A client calling `add` on one persistent connection, one call at a time, until stopped:
/// its calls, failures, and the longest it waited for an answer.
private final class AddCaller: @unchecked Sendable {
    private let lock = NSLock()
    private var stopping = false
    private var calls = 0
    private var failed = 0
    private var longestWait = 0.0
    private let finished = DispatchSemaphore(value: 0)

    init(port: Int, request: [UInt8]) {
        Thread { [self] in
            var socket = LineSocket(port: port)
            while !lock.withLock({ stopping }) {
                let started = Date()
                if let line = socket.flatMap({ $0.send(request) ? $0.readLine() : nil }), line.contains("RPC-RES") {
                    lock.withLock {
                        calls += 1
                        longestWait = max(longestWait, Date().timeIntervalSince(started))
                    }
                } else {
                    lock.withLock { failed += 1 }
                    socket?.close()
                    socket = LineSocket(port: port)
                }
            }
            socket?.close()
            finished.signal()
        }.start()
    }

    func stop() -> (calls: Int, failed: Int, longestWait: Double) {
        lock.withLock { stopping = true }
        finished.wait()
        return lock.withLock { (calls, failed, longestWait) }
    }
}
