import Foundation
import PyRPCWire
import XCTest

#if canImport(Glibc)
import Glibc
#endif

/// A call that kills its worker process is answered, and takes nobody else down: its client
/// hears `Execution Exception` naming the signal or exit status; the worker's other
/// connections move to the workers that stay, with their unanswered requests, and every
/// request on them is answered once, in order; the worker is replaced at once, every time,
/// without the crash-loop back-off (which is for workers that die as they start). Real
/// processes and signals.
final class CrashingCallTests: ServerProcessTestCase {
    private static let crashes = """
        import ctypes, os, sys

        def segv():
            ctypes.string_at(0)
            return 0

        def abort():
            os.abort()
            return 0

        def quit():
            os._exit(3)
            return 0

        def recurse():
            sys.setrecursionlimit(10**8)
            nested = []
            for _ in range(10**6):
                nested = [nested]
            return len(repr(nested))

        """

    private func serve(processes: Int) throws {
        let crashing = ["segv", "abort", "quit", "recurse"].map { ($0, "[]", "[int]", "crash.py") }
        try writeFiles([
            "crash.py": Self.crashes, "who.py": PipeliningClient.whoScript,
            "init.yaml": oneServerNetwork(port: port, rpcs: crashing + [("who", "[int]", "[int]", "who.py")]),
        ], in: folder)
        server = try CLIProcess.start(["serve", "s1", "--state-dir", "state", "--processes", "\(processes)"], in: folder)
        XCTAssertTrue(wait(30) { occurrences(of: " ready (generation") >= processes }, log)
        XCTAssertEqual(try CLIProcess.run(["deploy"], in: folder).status, 0, log)
    }

    /// One call on a connection of its own: its exception message, or nil (no exception, or
    /// the connection closed without an answer).
    private func crashMessage(_ rpc: String) -> String? {
        guard let socket = try? RawSocket(host: "127.0.0.1", port: port, timeout: 20) else { return nil }
        defer { socket.close() }
        let line = requestLine(service: "svc", rpc: rpc, arguments: [], types: [], returns: ["int"], id: .int(1)) + "\n"
        guard (try? socket.send(line)) != nil, let answer = try? JSONParser.parse(socket.readLine()) else { return nil }
        XCTAssertEqual(answer["value"]?["id"], .int(1))
        XCTAssertEqual(answer["value"]?["exception-type"]?.stringValue, "Execution Exception")
        return answer["value"]?["exception-message"]?.stringValue
    }

    /// Twenty segfaulting calls in a row while clients pipeline on their own connections:
    /// every crash is answered, and the pipelining clients see no error and never reconnect.
    private func crashWhilePipelining(processes: Int) throws {
        try serve(processes: processes)
        let clients = try (0..<2).map { _ in try PipeliningClient(port: port) }
        XCTAssertTrue(wait(30) { clients.allSatisfy { $0.count > 50 } }, log)
        for index in 0..<20 {
            XCTAssertEqual(crashMessage("segv"), "svc.segv() killed its worker: SIGSEGV", "crash \(index): \(log)")
        }
        let counts = clients.map(\.count)
        XCTAssertTrue(wait(30) { zip(clients, counts).allSatisfy { $0.count > $1 + 50 } || clients.contains { $0.failed != nil } }, log)
        for client in clients { XCTAssertNil(client.stop(), log) }
        XCTAssertEqual(occurrences(of: "killed by SIGSEGV while running svc.segv()"), 20, log)
        XCTAssertFalse(log.contains("crash loop"), log)
        XCTAssertFalse(log.contains("starting another in"), "a replacement waited: \(log)")
        XCTAssertFalse(log.contains("could not be handed over"), log)
    }

    func testCrashingCallsAreAnsweredAndFailNoOtherCall() throws {
        try crashWhilePipelining(processes: 2)
    }

    /// With one worker, the connections wait for its replacement, which starts at once.
    func testWithOneWorkerCrashingCallsAreAnsweredAndFailNoOtherCall() throws {
        try crashWhilePipelining(processes: 1)
    }

    func testEachKindOfCrashIsAnswered() throws {
        try serve(processes: 2)
        let client = try PipeliningClient(port: port)
        XCTAssertEqual(crashMessage("segv"), "svc.segv() killed its worker: SIGSEGV")
        XCTAssertEqual(crashMessage("abort"), "svc.abort() killed its worker: SIGABRT")
        XCTAssertEqual(crashMessage("quit"), "svc.quit() exited its worker with status 3 (os._exit)")
        // C recursion past the stack: handled on the thread's own signal stack.
        XCTAssertEqual(crashMessage("recurse"), "svc.recurse() killed its worker: SIGSEGV")
        XCTAssertNil(client.stop(), log)
        XCTAssertTrue(log.contains("exited with status 3 while running svc.quit()"), log)
    }
}
