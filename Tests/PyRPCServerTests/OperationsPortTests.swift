import Foundation
import XCTest

#if canImport(Glibc)
import Glibc
#endif

/// The operations port (`--metrics-listen`, or `metrics:` in init.yaml): `/livez` while the
/// supervisor runs, `/readyz` 200 only while a worker serves and the server is not draining,
/// 503 with the reason otherwise, and strict, bounded HTTP. A real `pyrpc serve`.
final class OperationsPortTests: ServerProcessTestCase {
    var operationsPort = 0

    override func setUp() async throws {
        try await super.setUp()
        operationsPort = CLIProcess.freePort()
        try writeFiles([
            "init.yaml": oneServerNetwork(port: port, rpcs: [("add", "[int, int]", "[int]", "add.py"), ("crash", "[]", "[int]", "crash.py")])
                .replacingOccurrences(of: "port: \(port)}", with: "port: \(port), metrics: \(operationsPort)}"),
            "add.py": "def add(a, b):\n    return a + b\n",
            // Kills its worker as it loads once the marker file exists (a data file changed).
            "crash.py": "import os\nif os.path.exists('\(folder.path)/marker'):\n    os._exit(7)\n\ndef crash():\n    return 0\n",
        ], in: folder)
    }

    private func serve(_ extra: [String] = []) throws -> Process {
        let process = try CLIProcess.start(["serve", "s1", "--state-dir", "state", "--processes", "1"] + extra, in: folder)
        server = process
        XCTAssertTrue(wait(30) { occurrences(of: " ready (generation") >= 1 }, log)
        return process
    }

    private func get(_ path: String) -> HTTPGet? {
        try? HTTPGet.fetch(port: operationsPort, path: path)
    }

    func testReadyWhileAWorkerServesAndDrainingOnSIGTERM() throws {
        let process = try serve(["--drain-seconds", "3"])
        XCTAssertTrue(log.contains("operations port on http://127.0.0.1:\(operationsPort)"), log)
        XCTAssertEqual(get("/livez")?.status, 200)
        XCTAssertTrue(wait(10) { get("/readyz")?.status == 200 }, log)
        XCTAssertEqual(get("/readyz")?.body, "ready\n")
        XCTAssertEqual(try CLIProcess.run(["deploy"], in: folder).status, 0, log)

        // SIGTERM: not ready at once, yet calls are still answered while it drains.
        let signalled = Date()
        kill(process.processIdentifier, SIGTERM)
        XCTAssertTrue(wait(2) { get("/readyz")?.status == 503 }, log)
        XCTAssertEqual(get("/readyz")?.body, "not ready: draining: server s1 is stopping\n")
        XCTAssertEqual(get("/livez")?.status, 200)
        let call = try CLIProcess.run(["call", "svc", "add", "2", "3"], in: folder)
        XCTAssertEqual(call.stdout, "5\n", call.stderr + log)
        XCTAssertLessThan(Date().timeIntervalSince(signalled), 3, "the call came after the drain; the test proves nothing")
        // Then it stops, once the drain is over.
        guard wait(20, until: { !process.isRunning }) else { return XCTFail("still running 20 s after SIGTERM: \(log)") }
        XCTAssertGreaterThanOrEqual(Date().timeIntervalSince(signalled), 3, "stopped before the drain was over")
        XCTAssertEqual(process.terminationStatus, 0)
        XCTAssertTrue(log.contains("draining for 3 s"), log)
    }

    func testNotReadyInACrashLoopAndReadyAgainOnceFixed() throws {
        _ = try serve()
        XCTAssertEqual(try CLIProcess.run(["deploy"], in: folder).status, 0, log)
        XCTAssertTrue(wait(10) { get("/readyz")?.status == 200 }, log)
        // Every worker now dies as it starts.
        XCTAssertTrue(FileManager.default.createFile(atPath: folder.appendingPathComponent("marker").path, contents: nil))
        for pid in childProcesses(of: server!.processIdentifier) { kill(pid, SIGKILL) }
        XCTAssertTrue(wait(30) { get("/readyz")?.body.hasPrefix("not ready: crash loop: server s1 has no worker running") ?? false }, "\(String(describing: get("/readyz"))) \(log)")
        XCTAssertEqual(get("/readyz")?.status, 503)
        XCTAssertEqual(get("/livez")?.status, 200)
        // A deploy that fixes the script is applied at once: ready again.
        try "def crash():\n    return 0\n".write(to: folder.appendingPathComponent("crash.py"), atomically: true, encoding: .utf8)
        XCTAssertEqual(try CLIProcess.run(["deploy"], in: folder).status, 0, log)
        XCTAssertTrue(wait(30) { get("/readyz")?.status == 200 }, log)
    }

    func testStrictBoundedHTTP() throws {
        _ = try serve()
        let post = try HTTPGet.fetch(port: operationsPort, request: "POST /readyz HTTP/1.1\r\nContent-Length: 0\r\n\r\n")
        XCTAssertEqual(post.status, 405)
        XCTAssertTrue(post.head.contains("Allow: GET, HEAD"), post.head)
        let head = try HTTPGet.fetch(port: operationsPort, request: "HEAD /livez HTTP/1.1\r\n\r\n")
        XCTAssertEqual(head.status, 200)
        XCTAssertEqual(head.body, "", "HEAD has no body")
        XCTAssertTrue(head.head.contains("Content-Length: 6"), head.head)
        let unknown = try HTTPGet.fetch(port: operationsPort, path: "/admin")
        XCTAssertEqual(unknown.status, 404)
        XCTAssertEqual(unknown.body, "no /admin here: this port serves /livez, /readyz and /metrics\n")
        // An RPC message sent here is refused at once, not after the timeout.
        let started = Date()
        let json = try HTTPGet.fetch(port: operationsPort, request: #"{"header":"LS-REQ","value":{}}"#)
        XCTAssertEqual(json.status, 400)
        XCTAssertLessThan(Date().timeIntervalSince(started), 2)
        let huge = try HTTPGet.fetch(port: operationsPort, request: "GET /livez HTTP/1.1\r\nX-Padding: " + String(repeating: "a", count: 9000) + "\r\n\r\n")
        XCTAssertEqual(huge.status, 431)
        // Many connections that never send anything do not stop a health check.
        let idle = try (0..<40).map { _ in try RawSocket(host: "127.0.0.1", port: operationsPort) }
        defer { idle.forEach { $0.close() } }
        XCTAssertTrue(wait(8) { get("/livez")?.status == 200 }, "the port stayed blocked by idle connections")
    }
}
