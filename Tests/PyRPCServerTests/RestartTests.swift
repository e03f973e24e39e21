import Foundation
import PyRPCWire
import XCTest

#if canImport(Glibc)
import Glibc
#endif

/// A service manager restarts a server the moment it died: the new one must get the port,
/// even while the dead supervisor's orphaned workers still finish their calls. Real processes.
final class RestartTests: XCTestCase {
    var folder: URL!
    var port = 0
    var servers: [Process] = []

    override func setUp() async throws {
        folder = try makeTemporaryFolder()
        port = CLIProcess.freePort()
    }

    override func tearDown() async throws {
        for server in servers where server.isRunning {
            kill(server.processIdentifier, SIGKILL)
            server.waitUntilExit()
        }
        try? FileManager.default.removeItem(at: folder)
    }

    private func log(_ name: String) -> String { CLIProcess.contents(folder.appendingPathComponent(name)) }

    /// `pyrpc serve` with its output in `name`.out/.err; waits until its worker is ready.
    private func serve(log name: String) throws -> Process {
        let process = try CLIProcess.start(["serve", "s1", "--state-dir", "state", "--processes", "1"], in: folder, logName: name)
        servers.append(process)
        let deadline = Date().addingTimeInterval(30)
        while !log("\(name).err").contains(" ready (generation"), process.isRunning, Date() < deadline { usleep(20_000) }
        return process
    }

    func testAServeStartedRightAfterTheSupervisorWasKilledGetsThePort() throws {
        let marker = folder.appendingPathComponent("started").path
        try writeFiles([
            "slow.py": "import time\n\ndef slow():\n    open('\(marker)', 'w').close()\n    time.sleep(3)\n    return 7\n",
            "version.py": "def version():\n    return 1\n",
            "init.yaml": oneServerNetwork(port: port, rpcs: [("slow", "[]", "[int]", "slow.py"), ("version", "[]", "[int]", "version.py")]),
        ], in: folder)
        let first = try serve(log: "first")
        XCTAssertEqual(try CLIProcess.run(["deploy"], in: folder).status, 0, log("first.err"))

        // A call in flight in the worker, which outlives its supervisor until the call ends.
        let slow = try RawSocket(host: "127.0.0.1", port: port, timeout: 15)
        defer { slow.close() }
        try slow.send(requestLine(service: "svc", rpc: "slow", arguments: [], types: [], returns: ["int"]) + "\n")
        let deadline = Date().addingTimeInterval(15)
        while !FileManager.default.fileExists(atPath: marker), Date() < deadline { usleep(10_000) }
        XCTAssertTrue(FileManager.default.fileExists(atPath: marker), log("first.err"))

        kill(first.processIdentifier, SIGKILL)
        // Dead once a zombie (Foundation's `waitUntilExit` may return only later).
        let killed = Date().addingTimeInterval(5)
        while processRuns(first.processIdentifier), Date() < killed { usleep(1_000) }
        let restarted = Date()
        let second = try serve(log: "second")
        XCTAssertTrue(second.isRunning, "the restarted serve exited: \(log("second.err"))")
        // Serving well before the orphan's call ends (3 s): the orphan let go of the port at once.
        XCTAssertLessThan(Date().timeIntervalSince(restarted), 2.5, log("second.err"))
        let fresh = try RawSocket(host: "127.0.0.1", port: port, timeout: 15)
        defer { fresh.close() }
        try fresh.send(requestLine(service: "svc", rpc: "version", arguments: [], types: [], returns: ["int"]) + "\n")
        XCTAssertEqual(try JSONParser.parse(fresh.readLine()).returnValues, [1])
        // The orphan still answered the call it had.
        XCTAssertEqual(try JSONParser.parse(slow.readLine()).returnValues, [7])
    }
}
