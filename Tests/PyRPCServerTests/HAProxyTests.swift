import Foundation
import XCTest

#if canImport(Glibc)
import Glibc
#endif

/// Two `pyrpc serve` behind a real HAProxy (Debian's, in TCP mode, with the configuration the
/// repository ships: deploy/haproxy/pyrpc.cfg), which checks each server's `/readyz`, while a
/// client calls through it all the time: a drained server loses no call, a killed one only
/// the calls in flight on it, and a restarted one comes back into rotation.
final class HAProxyTests: XCTestCase {
    var folder: URL!
    var servers: [String: Process] = [:]
    var haproxy: Process?
    let ports = (front: CLIProcess.freePort(), s1: CLIProcess.freePort(), s2: CLIProcess.freePort(),
                 ops1: CLIProcess.freePort(), ops2: CLIProcess.freePort())

    override func setUp() async throws {
        guard FileManager.default.isExecutableFile(atPath: "/usr/sbin/haproxy") else {
            throw XCTSkip("needs Debian's haproxy (`apt-get install haproxy`; .ci/run installs it)")
        }
        folder = try makeTemporaryFolder()
        try writeFiles([
            "init.yaml": """
                network:
                  servers:
                    - s1: {ip: 127.0.0.1, port: \(ports.s1), metrics: \(ports.ops1)}
                    - s2: {ip: 127.0.0.1, port: \(ports.s2), metrics: \(ports.ops2)}
                  clients:
                    - c1: {ip: 127.0.0.1}
                service:
                  - svc: {providers: [s1, s2], tenants: [c1], rpcs: [who]}
                rpc:
                  - who: {args: [int], returns: [int], src: who.py}
                """,
            "who.py": PipeliningClient.whoScript,
        ], in: folder)
    }

    override func tearDown() async throws {
        for process in Array(servers.values) + [haproxy].compactMap({ $0 }) where process.isRunning {
            for pid in childProcesses(of: process.processIdentifier) { kill(pid, SIGKILL) }
            kill(process.processIdentifier, SIGKILL)
            process.waitUntilExit()
        }
        if let folder { try? FileManager.default.removeItem(at: folder) }
    }

    private func log(_ name: String) -> String { CLIProcess.contents(folder.appendingPathComponent("\(name).err")) }

    private func serve(_ name: String) throws {
        let process = try CLIProcess.start(
            ["serve", name, "--state-dir", "state-\(name)", "--processes", "1", "--drain-seconds", "2"], in: folder, logName: name)
        servers[name] = process
        XCTAssertTrue(CLIProcess.waitForOutput("serving on", in: folder.appendingPathComponent("\(name).out"), of: process), log(name))
    }

    private func startHAProxy() throws {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/sbin/haproxy")
        let configuration = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
            .appendingPathComponent("deploy/haproxy/pyrpc.cfg")
        process.arguments = ["-db", "-f", configuration.path]
        process.environment = [
            "PYRPC_FRONTEND": "127.0.0.1:\(ports.front)",
            "PYRPC_S1": "127.0.0.1:\(ports.s1)", "PYRPC_S1_CHECK_PORT": "\(ports.ops1)",
            "PYRPC_S2": "127.0.0.1:\(ports.s2)", "PYRPC_S2_CHECK_PORT": "\(ports.ops2)",
        ]
        let output = FileManager.default.createFile(atPath: folder.appendingPathComponent("haproxy.log").path, contents: nil)
        XCTAssertTrue(output)
        let handle = try FileHandle(forWritingTo: folder.appendingPathComponent("haproxy.log"))
        process.standardOutput = handle
        process.standardError = handle
        try process.run()
        haproxy = process
        // Calls start once it listens.
        let deadline = Date().addingTimeInterval(10)
        while (try? RawSocket(host: "127.0.0.1", port: ports.front, timeout: 1))?.close() == nil {
            guard Date() < deadline else { return XCTFail("haproxy does not listen: \(haproxyLog)") }
            usleep(20_000)
        }
    }

    private var haproxyLog: String { CLIProcess.contents(folder.appendingPathComponent("haproxy.log")) }

    /// Waits (with a deadline) until HAProxy logs `text` `times` times.
    private func waitForHAProxy(_ text: String, times: Int = 1, within seconds: Double = 15) -> Bool {
        let deadline = Date().addingTimeInterval(seconds)
        while haproxyLog.components(separatedBy: text).count - 1 < times {
            if Date() > deadline { return false }
            usleep(20_000)
        }
        return true
    }

    func testDrainKillAndRestartBehindHAProxy() throws {
        try serve("s1")
        try serve("s2")
        let deploy = try CLIProcess.run(["deploy"], in: folder)
        XCTAssertEqual(deploy.status, 0, deploy.stdout + deploy.stderr)
        try startHAProxy()
        let load = BalancedLoad(port: ports.front, clients: 4)
        defer { load.stop() }
        // Both servers answer through HAProxy.
        let s1Worker = { childProcesses(of: self.servers["s1"]!.processIdentifier).first.map(Int.init) ?? -1 }
        let s2Worker = childProcesses(of: servers["s2"]!.processIdentifier).first.map(Int.init) ?? -1
        XCTAssertTrue(load.waitUntil(15) { $0.contains(s1Worker()) && $0.contains(s2Worker) }, "\(load.report) \(haproxyLog)")

        // 1. SIGTERM with --drain-seconds 2: /readyz turns 503, HAProxy takes s1 out, s1 stops
        // accepting only after that: no call fails.
        let drained = servers["s1"]!
        kill(drained.processIdentifier, SIGTERM)
        XCTAssertTrue(waitForHAProxy("s1 is DOWN"), haproxyLog)
        // Taken out by its /readyz (503) while it still accepted, not by a refused connection.
        let down = haproxyLog.split(separator: "\n").first { $0.contains("s1 is DOWN") } ?? ""
        XCTAssertTrue(down.contains("code: 503"), String(down))
        XCTAssertTrue(drained.isRunning, "s1 stopped before HAProxy took it out: the drain was too short to prove anything")
        drained.waitUntilExit()
        let afterDrain = load.answered
        XCTAssertTrue(load.waitUntil(10) { _ in load.answered > afterDrain + 200 })
        XCTAssertTrue(load.failures.isEmpty, "calls failed while s1 drained: \(load.failures) \(log("s1"))")

        // 2. Restarted (its state restored): back into rotation.
        try serve("s1")
        XCTAssertTrue(waitForHAProxy("s1 is UP", times: 1, within: 20), haproxyLog)
        XCTAssertTrue(load.waitUntil(15) { $0.contains(s1Worker()) }, load.report)

        // 3. kill -9 of s1, supervisor and workers: only the calls in flight on it may fail;
        // HAProxy takes it out at its next check, and every later call succeeds.
        let killed = servers["s1"]!
        let victims = childProcesses(of: killed.processIdentifier) + [killed.processIdentifier]
        let killedAt = Date()
        for pid in victims { kill(pid, SIGKILL) }
        killed.waitUntilExit()
        XCTAssertTrue(waitForHAProxy("s1 is DOWN", times: 2, within: 5), haproxyLog)
        let markedDown = Date().timeIntervalSince(killedAt)
        XCTAssertLessThan(markedDown, 2, "HAProxy took \(markedDown) s to take s1 out (checks every 200 ms)")
        let afterKill = load.answered
        XCTAssertTrue(load.waitUntil(10) { _ in load.answered > afterKill + 200 })
        let failed = load.failures
        // Each of the 4 clients may lose the call in flight, and the one it makes next if the
        // kernel queued that connection on s1's listening socket while its processes were still
        // dying (HAProxy cannot send such a call elsewhere: the connection was accepted). No
        // call fails once s1 is out.
        XCTAssertLessThanOrEqual(failed.count, 8, "more than the calls in flight failed: \(failed)")
        XCTAssertTrue(failed.allSatisfy { $0.at.timeIntervalSince(killedAt) < markedDown + 0.5 }, "calls failed after HAProxy took s1 out: \(failed)")
    }
}

/// Clients calling `who` through a balancer, a new connection per call (as clients behind a
/// balancer often do), noting which worker answered and every failure with its time.
final class BalancedLoad: @unchecked Sendable {  // state behind `lock`
    struct Failure: CustomStringConvertible {
        let at: Date
        let what: String
        var description: String { "\(at.timeIntervalSince1970): \(what)" }
    }

    private let lock = NSLock()
    private var stopped = false
    private var count = 0
    private var pids: Set<Int> = []
    private var failed: [Failure] = []
    private var threads: [Thread] = []

    init(port: Int, clients: Int) {
        for lane in 0..<clients {
            let thread = Thread { [self] in run(port: port, lane: lane) }
            threads.append(thread)
            thread.start()
        }
    }

    var answered: Int { lock.withLock { count } }
    var failures: [Failure] { lock.withLock { failed } }
    var report: String { lock.withLock { "\(count) answered by \(pids.sorted()), failures: \(failed)" } }

    func stop() { lock.withLock { stopped = true } }

    /// Waits until `condition` holds of the workers that answered so far, or `seconds` pass.
    func waitUntil(_ seconds: Double, _ condition: (Set<Int>) -> Bool) -> Bool {
        let deadline = Date().addingTimeInterval(seconds)
        while !condition(lock.withLock({ pids })) {
            if Date() > deadline { return false }
            usleep(20_000)
        }
        return true
    }

    private func run(port: Int, lane: Int) {
        var n = lane
        while !lock.withLock({ stopped }) {
            n += 100
            let request = #"{"header":"RPC-REQ","value":{"service":"svc","rpc":"who","arguments":[\#(n)],"argument-types":["int"],"return-types":["int"],"id":1}}"# + "\n"
            do {
                let socket = try RawSocket(host: "127.0.0.1", port: port, timeout: 10)
                defer { socket.close() }
                try socket.send(request)
                let line = try socket.readLine()
                guard let start = line.range(of: #""return-values":["#), let end = line[start.upperBound...].firstIndex(of: "]"),
                      let value = Int(line[start.upperBound..<end]), value / 10_000_000 == n else {
                    throw RawSocket.Failure(description: "unexpected answer \(line)")
                }
                lock.withLock {
                    count += 1
                    pids.insert(value % 10_000_000)
                }
            } catch {
                // Kept up to a bound, and not retried at once: a balancer that is down must not
                // turn this into a busy loop.
                lock.withLock { if failed.count < 100 { failed.append(Failure(at: Date(), what: "who(\(n)): \(error)")) } }
                usleep(10_000)
            }
        }
    }
}
