import Foundation
import PyRPCClient
import PyRPCWire

#if canImport(Glibc)
import Glibc
#endif

/// `pyrpc serve --processes N`: a supervisor and N worker processes (issue 11).
extension BenchSuite {
    static let spinRequest = BenchSuite.request("spin", [.int(20_000)], ["int"], ["int"])

    /// The real `pyrpc serve` (the binary beside this one) with `processes` workers, serving
    /// add and spin. Pinned (one worker only) like the other servers, or free to use every core.
    /// `pyrpc serve --processes N` with `add` and `spin` (or `rpcs`), started with `extra` flags.
    func startSupervised(
        processes: Int, pinned: Bool = ServerUnderTest.pinning, rpcs: [(name: String, args: String, returns: String, src: String)]? = nil,
        extra: [String] = [], name: String? = nil
    ) async throws -> ServerUnderTest {
        let label = "processes-\(processes)" + (extra.isEmpty && rpcs == nil ? "" : "-\(freePort())")
        let port = freePort()
        let config = try writeNetwork(port: port, rpcs: rpcs ?? [
            ("add", "[int, int]", "[int]", benchmarksFolder.appendingPathComponent("services/add.py").path),
            ("spin", "[int]", "[int]", benchmarksFolder.appendingPathComponent("services/spin.py").path),
        ], name: label)
        let binary = URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent().appendingPathComponent("pyrpc").path
        let server = try ServerUnderTest.launch(
            name: name ?? "pyrpc --processes \(processes)", port: port,
            command: [binary, "serve", "s1", "--config", folder.appendingPathComponent("\(label).yaml").path,
                      "--state-dir", folder.appendingPathComponent("state-\(label)").path, "--processes", "\(processes)"] + extra,
            log: folder.appendingPathComponent("\(label).log"), pinned: pinned && processes == 1, withChildren: true)
        servers.append(server)
        _ = try await Deployer.deploy(config, to: config.servers[0], token: nil)
        return server
    }

    func processWorkloads(duration: Double) async throws {
        // Nothing pinned here, the load generator included: the question is how well the
        // workers use every core. With the generator's eight threads pinned to core 1, the
        // kernel's load balancing kept both workers of `--processes 2` on core 0 for much of
        // the run (1.2-1.3x in a slow hour, 2.2x unpinned in the same hour).
        let one = try await startSupervised(processes: 1, pinned: false)
        let two = try await startSupervised(processes: 2, pinned: false)
        if wanted("spin(1 ms CPU) c=8") {
            if ServerUnderTest.pinning { ProcessProbe.pinSelf(to: Array(0..<ProcessProbe.onlineCores)) }
            // Six turns each: every turn opens its connections anew, and how the kernel happens
            // to split them over the two workers (4/4, 5/3, 6/2) moves one turn's figure.
            measureInTurns("spin(1 ms CPU) c=8", [one, two], request: Self.spinRequest, mode: .persistent, concurrency: 8, duration: duration, rounds: 6)
            if ServerUnderTest.pinning { ProcessProbe.pinSelf(to: [1]) }
        }
        one.stop()
        if wanted("worker crash") { try crashWorkloads(two, duration: duration) }
        two.stop()
    }

    /// A worker killed with SIGKILL under load, then `crashCycles` kill-and-replace cycles.
    private func crashWorkloads(_ server: ServerUnderTest, duration: Double) throws {
        // Load on 8 persistent connections while one worker is killed: only the calls in flight
        // on that worker's connections may fail (the generator then reconnects).
        let loadDone = DispatchSemaphore(value: 0)
        let result = LockedLoadResult()
        let (port, request) = (server.port, addRequest)
        Thread {
            result.value = LoadGenerator.run(port: port, request: request, mode: .persistent, concurrency: 8, duration: max(duration, 2))
            loadDone.signal()
        }.start()
        usleep(500_000)
        guard let victim = ProcessProbe.children(server.pid).first else { throw BenchError("the supervisor has no worker") }
        kill(victim, SIGKILL)
        let killed = Date()
        // A new connection is answered (by the other worker, or the replacement).
        while !Self.answers(port: port, request: addRequest), Date().timeIntervalSince(killed) < 10 { usleep(1_000) }
        let answered = Date().timeIntervalSince(killed)
        let replaced = waitForWorkers(server, count: 2, without: victim)
        loadDone.wait()
        let load = result.value ?? LoadResult()
        report.notes.append(String(
            format: "Worker killed with SIGKILL under load (add, 8 persistent connections, 2 workers): %d calls, %d failed (the calls in flight on the killed worker's connections, at most 8); a new connection was answered %.1f ms after the kill; the replacement worker was ready after %.0f ms.",
            load.calls, load.failures, answered * 1000, replaced * 1000))
        say(report.notes.last!)

        // Kill-and-replace cycles: the supervisor must leave no zombie, keep its descriptors
        // and keep its memory. Each victim first serves a second, so the cycles are not a
        // crash loop (which would back off on purpose).
        let descriptorsBefore = ProcessProbe.descriptorCount(server.pid)
        let residentBefore = server.supervisorResidentBytes
        let started = Date()
        for _ in 0..<options.crashCycles {
            guard let victim = ProcessProbe.children(server.pid).first else { break }
            kill(victim, SIGKILL)
            _ = waitForWorkers(server, count: 2, without: victim)
            usleep(1_050_000)
        }
        let zombies = ProcessProbe.children(server.pid).filter { ProcessProbe.isZombie($0) }.count
        let descriptorsAfter = ProcessProbe.descriptorCount(server.pid)
        let residentAfter = server.supervisorResidentBytes
        report.notes.append(String(
            format: "%d worker kill-and-replace cycles (%.0f s): %d zombies; supervisor descriptors %d before, %d after; supervisor RSS %.1f MiB before, %.1f MiB after.",
            options.crashCycles, Date().timeIntervalSince(started), zombies, descriptorsBefore, descriptorsAfter,
            Double(residentBefore) / 1_048_576, Double(residentAfter) / 1_048_576))
        say(report.notes.last!)
        report.memory.append(MemoryRow(
            what: "\(options.crashCycles) worker crashes (supervisor)", firstLabel: "before", first: residentBefore,
            secondLabel: "after", second: residentAfter))
    }

    /// Seconds until the supervisor has `count` workers, none of them `without`, answering STATS.
    private func waitForWorkers(_ server: ServerUnderTest, count: Int, without gone: Int32) -> Double {
        let start = Date()
        let request = Array(#"{"header":"STATS-REQ","value":{}}"#.utf8) + [UInt8(ascii: "\n")]
        while Date().timeIntervalSince(start) < 30 {
            if let answer = Self.answer(port: server.port, request: request),
               let stats = try? JSONParser.parse(answer), let processes = stats["value"]?["processes"]?.arrayValue,
               processes.count == count, !processes.contains(where: { $0["pid"] == .int(Int(gone)) }) {
                return Date().timeIntervalSince(start)
            }
            usleep(5_000)
        }
        return Date().timeIntervalSince(start)
    }

    static func answers(port: Int, request: [UInt8]) -> Bool {
        answer(port: port, request: request).map { $0.contains("RPC-RES") } ?? false
    }

    /// One request on a fresh connection; its whole answer line.
    static func answer(port: Int, request: [UInt8]) -> String? {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        defer { close(fd) }
        var timeout = timeval(tv_sec: 5, tv_usec: 0)
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
        guard connectToLoopback(fd, port: port), request.withUnsafeBytes({ send(fd, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }) == request.count else { return nil }
        var answer: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 65536)
        while !answer.contains(UInt8(ascii: "\n")) {
            let count = chunk.withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, 0) }
            if count <= 0 { return nil }
            answer += chunk[..<count]
        }
        return String(decoding: answer, as: UTF8.self)
    }
}

private final class LockedLoadResult: @unchecked Sendable {  // written by one thread before the semaphore it waits on
    var value: LoadResult?
}
