import Foundation
import XCTest

/// The `pyrpc` binary as a user runs it: `up`, `call`, `ls`, `stats`, exit codes, signals.
final class CLITests: XCTestCase {
    var folder: URL!
    var port1 = 0
    var port2 = 0

    override func setUp() async throws {
        folder = try makeTemporaryFolder()
        port1 = CLIProcess.freePort()
        port2 = CLIProcess.freePort()
        let yaml = """
            network:
              servers:
                - s1: {ip: 127.0.0.1, port: \(port1)}
                - s2: {ip: 127.0.0.1, port: \(port2)}
              clients:
                - c1: {ip: 127.0.0.1, port: 6001}
                - c2: {ip: 127.0.0.1, port: 6002}
            service:
              - calc:
                  providers: [s1, s2]
                  tenants: [c1, c2]
                  rpcs: [add, greet]
              - secret:
                  providers: [s2]
                  tenants: [c1]
                  rpcs: [code]
            rpc:
              - add: {args: [int, int], returns: [int], src: add.py}
              - add: {args: [float, float], returns: [float], src: add_float.py}
              - greet: {args: [str], returns: [str], src: greet.py}
              - code: {args: [], returns: [int], src: code.py}
            """
        let files = [
            "init.yaml": yaml,
            "add.py": "def add(a, b):\n    return a + b\n",
            "add_float.py": "def add(a, b):\n    return a + b\n",
            "greet.py": "def greet(name):\n    return 'hello ' + name\n",
            "code.py": "def code():\n    return 42\n",
        ]
        for (name, text) in files {
            try text.write(to: folder.appendingPathComponent(name), atomically: true, encoding: .utf8)
        }
    }

    override func tearDown() async throws {
        try? FileManager.default.removeItem(at: folder)
    }

    private func up() throws -> Process {
        let process = try CLIProcess.start(["up", "init.yaml", "--log-level", "warning", "--state-dir", folder.appendingPathComponent("state").path], in: folder)
        // Serving once the banner is out: the ports open before the RPCs are deployed.
        XCTAssertTrue(CLIProcess.waitForOutput("Stop with Ctrl-C", in: folder.appendingPathComponent("server.out"), of: process), "pyrpc up did not start serving")
        return process
    }

    private func call(_ arguments: String...) throws -> CLIProcess.Output {
        try CLIProcess.run(["call"] + arguments, in: folder)
    }

    func testUpCallListAndStop() throws {
        let server = try up()
        defer { if server.isRunning { server.terminate() } }

        var output = try call("calc", "add", "2", "3")
        XCTAssertEqual(output.status, 0, output.stderr)
        XCTAssertEqual(output.stdout, "5\n")

        output = try call("calc", "add", "2.5", "1")
        XCTAssertEqual(output.stdout, "3.5\n")

        output = try call("calc", "greet", "wörld", "--as", "c2", "--server", "s2")
        XCTAssertEqual(output.stdout, "hello wörld\n")

        output = try call("calc", "add", "-5", "3")
        XCTAssertEqual(output.stdout, "-2\n", output.stderr)

        output = try call("calc", "add", "2", "3", "--json")
        XCTAssertEqual(output.stdout, #"{"header":"RPC-RES","value":{"return-values":[5]}}"# + "\n")

        output = try call("calc", "add", "1", "2", "--to", "127.0.0.1:\(port2)", "--arg-types", "int,int", "--return-types", "int", "--as", "c1")
        XCTAssertEqual(output.stdout, "3\n", output.stderr)

        // An RPC exception: exit 1, type and message on stderr.
        output = try call("secret", "code", "--as", "c2")
        XCTAssertEqual(output.status, 1)
        XCTAssertTrue(output.stderr.hasPrefix("Client Not Registered: client 'c2' may not access service 'secret'"), output.stderr)
        output = try call("calc", "add", "2", "3", "--arg-types", "str,int", "--return-types", "int")
        XCTAssertEqual(output.status, 1)
        XCTAssertTrue(output.stderr.contains("calc.add accepts (int, int) -> (int) or (float, float) -> (float)"), output.stderr)

        // Usage error: exit 2.
        output = try call("calc", "add", "two", "three")
        XCTAssertEqual(output.status, 2)
        XCTAssertTrue(output.stderr.contains("fit no overload"), output.stderr)

        let listing = try CLIProcess.run(["ls"], in: folder)
        XCTAssertEqual(listing.status, 0, listing.stderr)
        XCTAssertTrue(listing.stdout.contains("s1 (generation 1, 3 rpcs)"), listing.stdout)
        XCTAssertTrue(listing.stdout.contains("calc.add") && listing.stdout.contains("(float, float) -> (float)"), listing.stdout)
        XCTAssertTrue(listing.stdout.contains("secret.code"), listing.stdout)

        let stats = try CLIProcess.run(["stats", "s1"], in: folder)
        XCTAssertEqual(stats.status, 0, stats.stderr)
        XCTAssertTrue(stats.stdout.contains("calc.add"), stats.stdout)

        // SIGTERM: graceful stop with exit 0.
        server.terminate()
        server.waitUntilExit()
        XCTAssertEqual(server.terminationStatus, 0)
        XCTAssertEqual(server.terminationReason, .exit)

        // Nothing listening now: network error, exit 3.
        output = try call("calc", "add", "2", "3")
        XCTAssertEqual(output.status, 3)
        XCTAssertTrue(output.stderr.contains("connection refused"), output.stderr)
    }

    func testOutOfDescriptorsShedsConnectionsAndKeepsServing() throws {
        // Started with room for a few dozen descriptors, then sent more connections than fit.
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/bin/sh")
        let state = folder.appendingPathComponent("state").path
        process.arguments = ["-c", "ulimit -n 64 && exec \"$0\" up init.yaml --log-level warning --state-dir \"$1\" >server.out 2>server.err", CLIProcess.binary, state]
        process.currentDirectoryURL = folder
        try process.run()
        defer { if process.isRunning { process.terminate(); process.waitUntilExit() } }
        // Serving once `up` has deployed (its deploy needs descriptors too).
        let deadline = Date().addingTimeInterval(30)
        func ready() -> Bool {
            ((try? String(contentsOf: folder.appendingPathComponent("server.out"), encoding: .utf8)) ?? "").contains("pyrpc is serving")
        }
        while !ready(), process.isRunning, Date() < deadline { usleep(50_000) }
        XCTAssertTrue(ready(), "pyrpc up did not start serving")
        let request = #"{"header":"RPC-REQ","value":{"client":"c1","service":"calc","rpc":"add","arguments":[2,3],"argument-types":["int","int"],"return-types":["int"]}}"# + "\n"
        let sockets = try (0..<80).map { _ in try RawSocket(host: "127.0.0.1", port: port1, timeout: 3) }
        var answered = 0
        var shed = 0
        for socket in sockets {
            // Each connection is either served or closed at once; none is left hanging.
            try? socket.send(request)
            if let line = try? socket.readLine() {
                XCTAssertTrue(line.contains(#""return-values":[5]"#), line)
                answered += 1
            } else {
                XCTAssertTrue((try? socket.readsEOF()) ?? true, "a connection the server cannot take must be closed, not left pending")
                shed += 1
            }
        }
        sockets.forEach { $0.close() }
        XCTAssertGreaterThan(answered, 0)
        XCTAssertGreaterThan(shed, 0, "64 descriptors cannot hold 80 connections")
        Thread.sleep(forTimeInterval: 0.2)
        let output = try call("calc", "add", "2", "3", "--server", "s1")
        XCTAssertEqual(output.stdout, "5\n", "the server keeps serving once descriptors are free: \(output.stderr)")
        let log = (try? String(contentsOf: folder.appendingPathComponent("server.err"), encoding: .utf8)) ?? ""
        XCTAssertTrue(log.contains("out of file descriptors"), log)
    }

    func testConfigErrorIsReportedWithLineAndExitCode2() throws {
        try """
            network:
              servers:
                - s1: {ip: 127.0.0.1, port: 8181}
              clients:
                - c1: {ip: 127.0.0.1}
            service:
              - calc:
                  providers: [s1, s9]
                  tenants: [c1]
            """.write(to: folder.appendingPathComponent("bad.yaml"), atomically: true, encoding: .utf8)
        let output = try CLIProcess.run(["up", "bad.yaml"], in: folder)
        XCTAssertEqual(output.status, 2)
        XCTAssertTrue(output.stderr.contains("bad.yaml:8:"), output.stderr)
        XCTAssertTrue(output.stderr.contains("s9"), output.stderr)
    }

    func testServeDeployAndRestartAfterSIGKILL() throws {
        let state = folder.appendingPathComponent("state-s2").path
        var server = try CLIProcess.start(["serve", "s2", "--state-dir", state, "--log-level", "warning"], in: folder)
        defer { if server.isRunning { server.terminate() } }
        XCTAssertTrue(CLIProcess.waitForPort(port2))
        // Nothing deployed yet.
        XCTAssertEqual(try call("secret", "code", "--server", "s2").status, 1)

        var deploy = try CLIProcess.run(["deploy"], in: folder)
        // s1 is not running: reported, the other server still deploys, exit code 3.
        XCTAssertEqual(deploy.status, 3, deploy.stdout + deploy.stderr)
        XCTAssertTrue(deploy.stdout.contains("s1: FAILED"), deploy.stdout)
        XCTAssertTrue(deploy.stdout.contains("s2: generation 1 live"), deploy.stdout)
        var output = try call("secret", "code", "--server", "s2")
        XCTAssertEqual(output.status, 0, output.stderr)
        XCTAssertEqual(output.stdout, "42\n")

        // SIGKILL, restart: the last deployed state is served without a new deploy.
        kill(server.processIdentifier, SIGKILL)
        server.waitUntilExit()
        server = try CLIProcess.start(["serve", "s2", "--state-dir", state, "--log-level", "warning"], in: folder, logName: "restart")
        XCTAssertTrue(CLIProcess.waitForPort(port2))
        output = try call("secret", "code", "--server", "s2")
        XCTAssertEqual(output.stdout, "42\n", output.stderr)
        output = try call("calc", "add", "2", "3", "--server", "s2")
        XCTAssertEqual(output.stdout, "5\n", output.stderr)

        // An unchanged redeploy sends no script bytes.
        deploy = try CLIProcess.run(["deploy"], in: folder)
        let row = deploy.stdout.split(separator: "\n").first { $0.hasPrefix("s2 ") }.map(String.init) ?? ""
        let cells = row.split(separator: " ").map(String.init)
        XCTAssertEqual(cells.count, 9, row)
        XCTAssertEqual(cells[6], "0", "script bytes of an unchanged deploy: \(row)")
        XCTAssertEqual(cells[5], "4", "unchanged overloads: \(row)")

        server.interrupt()  // SIGINT
        server.waitUntilExit()
        XCTAssertEqual(server.terminationStatus, 0)
    }

    func testDeployWatchRedeploysAChangedScript() throws {
        let state = folder.appendingPathComponent("state-watch").path
        let server = try CLIProcess.start(["serve", "s2", "--state-dir", state, "--log-level", "warning"], in: folder)
        defer { if server.isRunning { server.terminate() } }
        XCTAssertTrue(CLIProcess.waitForPort(port2))
        let watch = try CLIProcess.start(["deploy", "--watch"], in: folder, logName: "watch")
        defer { if watch.isRunning { watch.terminate() } }

        func code() throws -> String { try call("secret", "code", "--server", "s2").stdout }
        let deadline = Date().addingTimeInterval(20)
        while try code() != "42\n", Date() < deadline { usleep(200_000) }
        XCTAssertEqual(try code(), "42\n")

        try "def code():\n    return 43\n".write(to: folder.appendingPathComponent("code.py"), atomically: true, encoding: .utf8)
        while try code() != "43\n", Date() < deadline { usleep(200_000) }
        XCTAssertEqual(try code(), "43\n", "--watch redeploys when a declared script changes")
    }
}
