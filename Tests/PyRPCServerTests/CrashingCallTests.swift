import Foundation
import PyRPCWire
import XCTest

#if canImport(Glibc)
import Glibc
#endif

/// A tenant whose RPC kills its worker process, call after call, must not keep the other
/// clients out: such a worker is replaced at once, every time, and never counts toward the
/// crash-loop back-off (which is for workers that die as they start). Real processes.
final class CrashingCallTests: ServerProcessTestCase {

    private func serve(processes: Int) throws {
        let scripts = [
            "segv.py": "import ctypes\n\ndef segv():\n    ctypes.string_at(0)\n    return 0\n",
            "version.py": "def version():\n    return 1\n",
            "init.yaml": oneServerNetwork(port: port, rpcs: [("segv", "[]", "[int]", "segv.py"), ("version", "[]", "[int]", "version.py")]),
        ]
        try writeFiles(scripts, in: folder)
        let process = try CLIProcess.start(["serve", "s1", "--state-dir", "state", "--processes", "\(processes)"], in: folder)
        server = process
        let deadline = Date().addingTimeInterval(30)
        while log.components(separatedBy: " ready (generation").count - 1 < processes, Date() < deadline { usleep(20_000) }
        XCTAssertEqual(try CLIProcess.run(["deploy"], in: folder).status, 0, log)
    }

    /// One call on a connection of its own: its answer, or nil when the connection closed
    /// without one (the worker died).
    private static func call(_ rpc: String, port: Int) -> JSONValue? {
        guard let socket = try? RawSocket(host: "127.0.0.1", port: port, timeout: 15) else { return nil }
        defer { socket.close() }
        let line = requestLine(service: "svc", rpc: rpc, arguments: [], types: [], returns: ["int"]) + "\n"
        guard (try? socket.send(line)) != nil, let answer = try? socket.readLine() else { return nil }
        return try? JSONParser.parse(answer)
    }

    /// Twenty crashing calls in a row while another client calls: it never hears `Server
    /// Busy`, and the supervisor never backs off.
    private func crashCallsWhileAnotherClientCalls(processes: Int) throws -> (busy: Int, ok: Int, longestWait: Double) {
        try serve(processes: processes)
        let seen = Outcomes()
        let port = self.port
        let caller = Thread {
            var lastAnswer = Date()
            while !seen.stopped {
                let answer = Self.call("version", port: port)
                if answer?.returnValues == [.int(1)] {
                    seen.answered(after: Date().timeIntervalSince(lastAnswer))
                    lastAnswer = Date()
                } else if answer?["value"]?["type"]?.stringValue == "Server Busy" {
                    seen.busy()
                }
                // A closed connection (it landed on the worker a crash took) is tried again.
            }
        }
        caller.start()
        var crashes = 0
        var answered: [JSONValue] = []
        for _ in 0..<20 {
            if let answer = Self.call("segv", port: port) { answered.append(answer) } else { crashes += 1 }
        }
        let afterCrashes = seen.counts.ok
        let deadline = Date().addingTimeInterval(15)
        while seen.counts.ok < afterCrashes + 20, Date() < deadline { usleep(10_000) }
        seen.stop()
        while caller.isExecuting { usleep(10_000) }
        XCTAssertEqual(crashes, 20, "answered instead: \(answered)\n\(log)")
        XCTAssertFalse(log.contains("crash loop"), log)
        return seen.counts
    }

    func testCrashingCallsNeverMakeOtherClientsBusy() throws {
        let outcome = try crashCallsWhileAnotherClientCalls(processes: 2)
        XCTAssertEqual(outcome.busy, 0, "Server Busy answers: \(log)")
        XCTAssertGreaterThan(outcome.ok, 20)
    }

    /// With one worker every call waits for the replacement, which starts at once each time
    /// (the old back-off grew to 10 s and answered `Server Busy` meanwhile). How long that
    /// takes is measured by `pyrpc-bench`, not asserted here.
    func testWithOneWorkerCrashingCallsAreReplacedWithoutBackOff() throws {
        let outcome = try crashCallsWhileAnotherClientCalls(processes: 1)
        XCTAssertEqual(outcome.busy, 0, "Server Busy answers: \(log)")
        XCTAssertFalse(log.contains("starting another in"), "a replacement waited: \(log)")
        XCTAssertEqual(log.components(separatedBy: "killed by SIGSEGV while running svc.segv()").count - 1, 20, log)
        print("longest wait between two answers of the other client: \(outcome.longestWait) s")
    }
}

/// What the other client saw, shared between its thread and the test. (NSLock: ThreadSanitizer
/// sees pthread locks.)
private final class Outcomes: @unchecked Sendable {
    private let lock = NSLock()
    private var ok = 0
    private var busyAnswers = 0
    private var longestWait = 0.0
    private var done = false

    func answered(after wait: Double) {
        lock.withLock {
            ok += 1
            longestWait = max(longestWait, wait)
        }
    }

    func busy() { lock.withLock { busyAnswers += 1 } }
    func stop() { lock.withLock { done = true } }
    var stopped: Bool { lock.withLock { done } }
    var counts: (busy: Int, ok: Int, longestWait: Double) { lock.withLock { (busyAnswers, ok, longestWait) } }
}
