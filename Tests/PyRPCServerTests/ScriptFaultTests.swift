import Foundation
import PyRPCWire
import XCTest

#if canImport(Glibc)
import Glibc
#endif

/// What a script can do to the process that hosts it — close standard output, change
/// directory or locale, fork, ignore the timeout — must not change what any client receives,
/// nor stop the server from deploying, restarting or shutting down. Real `pyrpc serve`.
final class ScriptFaultTests: XCTestCase {
    var folder: URL!
    var port = 0
    var server: Process?

    override func setUp() async throws {
        folder = try makeTemporaryFolder()
        port = CLIProcess.freePort()
    }

    override func tearDown() async throws {
        if let server, server.isRunning { server.terminate(); server.waitUntilExit() }
        try? FileManager.default.removeItem(at: folder)
    }

    private func write(_ files: [String: String]) throws {
        try writeFiles(files, in: folder)
    }

    /// init.yaml with rpcs `(name, args, returns, src)`, all in service `svc`.
    private func network(_ rpcs: [(String, String, String, String)], timeout: Int? = nil) -> String {
        oneServerNetwork(port: port, rpcs: rpcs, timeout: timeout)
    }

    @discardableResult
    private func serve(_ extra: [String] = [], environment: [String: String] = [:]) throws -> Process {
        let process = try CLIProcess.start(["serve", "s1", "--state-dir", "state"] + extra, in: folder, environment: environment)
        XCTAssertTrue(CLIProcess.waitForPort(port), "serve did not start: \(log)")
        server = process
        return process
    }

    private var log: String { CLIProcess.contents(folder.appendingPathComponent("server.err")) }

    private func deploy() throws {
        let result = try CLIProcess.run(["deploy"], in: folder)
        XCTAssertEqual(result.status, 0, result.stdout + result.stderr)
    }

    private func call(_ rpc: String, _ arguments: [JSONValue] = [], types: [String] = [], returns: [String], on socket: RawSocket? = nil) throws -> JSONValue {
        let line = requestLine(service: "svc", rpc: rpc, arguments: arguments, types: types, returns: returns) + "\n"
        if let socket {
            try socket.send(line)
            return try JSONParser.parse(socket.readLine())
        }
        let fresh = try RawSocket(host: "127.0.0.1", port: port)
        defer { fresh.close() }
        try fresh.send(line)
        return try JSONParser.parse(fresh.readLine())
    }

    private func stop(within seconds: Double = 15) {
        guard let server else { return }
        kill(server.processIdentifier, SIGTERM)
        let deadline = Date().addingTimeInterval(seconds)
        while server.isRunning, Date() < deadline { usleep(20_000) }
        XCTAssertFalse(server.isRunning, "the server did not stop within \(seconds) s")
        server.waitUntilExit()
        XCTAssertEqual(server.terminationReason, .exit, "ended by signal \(server.terminationStatus)")
        XCTAssertEqual(server.terminationStatus, 0)
    }

    func testClosingStandardOutputNeverSendsTheLogToAClient() throws {
        try write([
            "init.yaml": network([("closer", "[]", "[int]", "closer.py"), ("fail", "[]", "[int]", "fail.py"), ("one", "[]", "[int]", "one.py")]),
            "closer.py": "import os\n\ndef closer():\n    os.close(1)\n    os.close(2)\n    print('printed after closing')\n    return 1\n",
            "fail.py": "def fail():\n    raise ValueError('logged failure')\n",
            "one.py": "def one():\n    return 1\n",
        ])
        try serve()
        try deploy()
        XCTAssertEqual(try call("closer", returns: ["int"]).returnValues, [1])
        // New connections now get the lowest free descriptors; the server must not use 1 or 2.
        let watchers = try (0..<4).map { _ in try RawSocket(host: "127.0.0.1", port: port, timeout: 0.5) }
        defer { for watcher in watchers { watcher.close() } }
        XCTAssertEqual(try call("one", returns: ["int"], on: watchers[0]).returnValues, [1])
        for _ in 0..<5 { XCTAssertEqual(try call("fail", returns: ["int"]).exceptionType, "Execution Exception") }
        for watcher in watchers.dropFirst() {
            XCTAssertThrowsError(try watcher.readLine(), "a client received something it did not ask for")
        }
        for watcher in watchers {
            XCTAssertEqual(try call("one", returns: ["int"], on: watcher).returnValues, [1])
        }
        XCTAssertTrue(log.contains("printed after closing") && log.contains("ValueError: logged failure"), "the log lost its lines:\n\(log)")
        stop()
    }

    func testChangingDirectoryDoesNotMoveTheState() throws {
        try write([
            "init.yaml": network([("wander", "[]", "[str]", "wander.py")]),
            "wander.py": "import os\n\ndef wander():\n    os.chdir('/')\n    return 'v1'\n",
        ])
        try serve()
        try deploy()
        XCTAssertEqual(try call("wander", returns: ["str"]).returnValues, [.string("v1")])
        try write(["wander.py": "import os\n\ndef wander():\n    os.chdir('/')\n    return 'v2'\n"])
        try deploy()
        XCTAssertEqual(try call("wander", returns: ["str"]).returnValues, [.string("v2")])
        stop()
        try serve()
        XCTAssertEqual(try call("wander", returns: ["str"]).returnValues, [.string("v2")], "a restart serves the last deployed state")
        stop()
    }

    func testSetLocaleDoesNotChangeHowNumbersRead() throws {
        // A locale whose decimal point is a comma, compiled for this test (LOCPATH).
        let locales = folder.appendingPathComponent("locales")
        try FileManager.default.createDirectory(at: locales, withIntermediateDirectories: true)
        let localedef = Process()
        localedef.executableURL = URL(fileURLWithPath: "/usr/bin/localedef")
        localedef.arguments = ["-i", "de_DE", "-f", "UTF-8", locales.appendingPathComponent("de_DE.UTF-8").path]
        localedef.standardError = FileHandle.nullDevice
        guard (try? localedef.run()) != nil else { throw XCTSkip("localedef is not installed (Debian's locales package)") }
        localedef.waitUntilExit()
        guard FileManager.default.fileExists(atPath: locales.appendingPathComponent("de_DE.UTF-8").path) else {
            throw XCTSkip("localedef could not compile de_DE (no locale sources)")
        }
        try write([
            "init.yaml": network([("german", "[]", "[str]", "german.py"), ("same", "[float]", "[float]", "same.py")]),
            "german.py": "import locale\n\ndef german():\n    locale.setlocale(locale.LC_ALL, 'de_DE.UTF-8')\n    return locale.localeconv()['decimal_point']\n",
            "same.py": "def same(x):\n    return x\n",
        ])
        try serve(environment: ["LOCPATH": locales.path])
        try deploy()
        XCTAssertEqual(try call("german", returns: ["str"]).returnValues, [.string(",")])
        for text in ["4.9e-324", "2.2250738585072011e-308", "0.12345678901234567890123", "1.7976931348623157e308"] {
            let socket = try RawSocket(host: "127.0.0.1", port: port)
            defer { socket.close() }
            try socket.send(#"{"header":"RPC-REQ","value":{"client":"c1","service":"svc","rpc":"same","arguments":[\#(text)],"argument-types":["float"],"return-types":["float"]}}"# + "\n")
            let answer = try JSONParser.parse(socket.readLine())
            XCTAssertEqual(answer.returnValues, [.float(Double(text)!)], "\(text): \(answer.jsonText)")
        }
        stop()
    }

    /// The server's children (from /proc), besides none of its own.
    private func children(of pid: Int32) -> [Int32] {
        childProcesses(of: pid)
    }

    private func waitUntilNoChildren(of pid: Int32) -> [Int32] {
        let deadline = Date().addingTimeInterval(10)
        var left = children(of: pid)
        while !left.isEmpty, Date() < deadline {
            usleep(50_000)
            left = children(of: pid)
        }
        return left
    }

    /// Processes a script starts get a fresh signal state: the server's threads inherit
    /// libdispatch's mask, which blocks SIGTERM, and a child that kept it ignored
    /// `terminate()` — so `multiprocessing.Pool`, which terminates its workers on exit, hung
    /// whenever a worker had not yet read its stop sentinel (about one call in ten).
    func testProcessesAScriptStartsCanBeTerminatedAndPoolsFinish() throws {
        try write([
            "init.yaml": network([
                ("pooled", "[int]", "[int]", "pooled.py"), ("spawned", "[]", "[int]", "spawned.py"),
                ("forked", "[]", "[int]", "forked.py"),
            ], timeout: 10),
            "pooled.py": "import multiprocessing\n\ndef square(x):\n    return x * x\n\ndef pooled(n):\n    with multiprocessing.Pool(2) as pool:\n        return sum(pool.map(square, range(n)))\n",
            "spawned.py": "import subprocess\n\ndef spawned():\n    child = subprocess.Popen(['sleep', '60'])\n    child.terminate()\n    try:\n        return child.wait(timeout=5)\n    except subprocess.TimeoutExpired:\n        child.kill()\n        return child.wait()\n",
            "forked.py": "import multiprocessing, time\n\ndef forked():\n    child = multiprocessing.Process(target=time.sleep, args=(60,))\n    child.start()\n    child.terminate()\n    child.join(5)\n    if child.exitcode is None:\n        child.kill()\n        child.join()\n    return child.exitcode\n",
        ])
        let process = try serve()
        try deploy()
        for _ in 1...5 {
            XCTAssertEqual(try call("spawned", returns: ["int"]).returnValues, [.int(-Int(SIGTERM))], "an exec'd child ignored SIGTERM")
            XCTAssertEqual(try call("forked", returns: ["int"]).returnValues, [.int(-Int(SIGTERM))], "a forked child ignored SIGTERM")
        }
        let socket = try RawSocket(host: "127.0.0.1", port: port, timeout: 15)
        defer { socket.close() }
        for n in 1...40 {
            let answer = try call("pooled", [.int(n)], types: ["int"], returns: ["int"], on: socket)
            XCTAssertEqual(answer.returnValues, [.int((0..<n).reduce(0) { $0 + $1 * $1 })], "call \(n): \(answer.jsonText)")
            if answer.returnValues == nil { break }
        }
        XCTAssertEqual(waitUntilNoChildren(of: servingProcess(of: process.processIdentifier)), [], "pool workers were left")
        stop()
    }

    func testForkAnswersOnceAndLeavesNoProcessBehind() throws {
        try write([
            "init.yaml": network([("forker", "[]", "[int]", "forker.py"), ("daemon", "[]", "[int]", "daemon.py")]),
            "forker.py": "import os\n\ndef forker():\n    os.fork()\n    return os.getpid()\n",
            "daemon.py": "import os, time\n\ndef daemon():\n    pid = os.fork()\n    if pid == 0:\n        time.sleep(60)\n        os._exit(0)\n    return pid\n",
        ])
        let process = try serve()
        try deploy()
        let worker = servingProcess(of: process.processIdentifier)
        let socket = try RawSocket(host: "127.0.0.1", port: port, timeout: 1)
        defer { socket.close() }
        for id in 1...3 {
            try socket.send(requestLine(service: "svc", rpc: "forker", arguments: [], types: [], returns: ["int"], id: .int(id)) + "\n")
            let answer = try JSONParser.parse(socket.readLine())
            XCTAssertEqual(answer.returnValues, [.int(Int(worker))], "the parent answers")
            XCTAssertEqual(answer["value"]?["id"], .int(id))
        }
        XCTAssertThrowsError(try socket.readLine(), "a forked child answered too")
        XCTAssertEqual(waitUntilNoChildren(of: worker), [], "forked children were left (zombies?)")

        guard case .int(let child)? = try call("daemon", returns: ["int"]).returnValues?.first else { return XCTFail("no pid") }
        XCTAssertEqual(kill(Int32(child), 0), 0, "the script's child runs")
        stop()
        let deadline = Date().addingTimeInterval(5)
        while kill(Int32(child), 0) == 0, Date() < deadline { usleep(50_000) }
        XCTAssertNotEqual(kill(Int32(child), 0), 0, "a forked child outlived the server")
        XCTAssertThrowsError(try RawSocket(host: "127.0.0.1", port: port, timeout: 1), "the port is still held after the server stopped")
    }

    func testAStuckCallDoesNotKeepTheServerFromStopping() throws {
        try write([
            "init.yaml": network([("stubborn", "[]", "[int]", "stubborn.py")], timeout: 1),
            "stubborn.py": "def stubborn():\n    while True:\n        try:\n            while True:\n                pass\n        except BaseException:\n            pass\n",
        ])
        try serve(["--shutdown-grace", "1"])
        try deploy()
        XCTAssertEqual(try call("stubborn", returns: ["int"]).exceptionType, "Timeout")
        let start = Date()
        stop(within: 10)
        XCTAssertLessThan(Date().timeIntervalSince(start), 5)
        XCTAssertTrue(log.contains("stopping with a call still running") && log.contains("svc.stubborn() -> (int) by c1@127.0.0.1"), log)
    }
}
