import Foundation
import PyRPCWire
import XCTest

#if canImport(Glibc)
import Glibc
#endif

/// Virtual environments and import folders (init.yaml's `python:`, `--venv`), on the real
/// binary: the interpreter is process-wide, so each case runs a server process of its own.
final class VenvTests: XCTestCase {
    var folder: URL!
    var port = 0

    override func setUp() async throws {
        folder = try makeTemporaryFolder()
        port = CLIProcess.freePort()
    }

    override func tearDown() async throws {
        try? FileManager.default.removeItem(at: folder)
    }

    private func write(_ files: [String: String]) throws {
        try writeFiles(files, in: folder)
    }

    /// A venv made by the server's own Python, without pip (no network needed).
    private func makeVenv(_ name: String) throws -> String {
        let venv = folder.appendingPathComponent(name).path
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/python3")
        process.arguments = ["-m", "venv", "--without-pip", venv]
        try process.run()
        process.waitUntilExit()
        XCTAssertEqual(process.terminationStatus, 0, "python3 -m venv failed")
        return venv
    }

    private func sitePackages(_ venv: String) throws -> String {
        let lib = URL(fileURLWithPath: venv).appendingPathComponent("lib")
        let version = try XCTUnwrap(try FileManager.default.contentsOfDirectory(atPath: lib.path).first { $0.hasPrefix("python3.") })
        return lib.appendingPathComponent(version).appendingPathComponent("site-packages").path
    }

    private func yaml(python: String, rpcs: [(name: String, args: String, returns: String)]) -> String {
        var text = """
            \(python)
            network:
              servers:
                - s1: {ip: 127.0.0.1, port: \(port)}
              clients:
                - c1: {ip: 127.0.0.1}
            service:
              - pkg: {providers: [s1], tenants: [c1], rpcs: [\(rpcs.map(\.name).joined(separator: ", "))]}
            rpc:

            """
        for rpc in rpcs {
            text += "  - \(rpc.name): {args: \(rpc.args), returns: \(rpc.returns), src: \(rpc.name).py}\n"
        }
        return text
    }

    private func serve(_ extra: [String] = []) throws -> Process {
        let state = folder.appendingPathComponent("state").path
        let process = try CLIProcess.start(["serve", "s1", "--state-dir", state, "--log-level", "warning"] + extra, in: folder)
        XCTAssertTrue(CLIProcess.waitForPort(port), "serve did not start: \(CLIProcess.contents(folder.appendingPathComponent("server.err")))")
        return process
    }

    private func call(_ rpc: String, _ arguments: [JSONValue] = [], types: [String] = [], returns: [String], timeout: Double = 10) throws -> JSONValue {
        let socket = try RawSocket(host: "127.0.0.1", port: port, timeout: timeout)
        defer { socket.close() }
        try socket.send(requestLine(service: "pkg", rpc: rpc, arguments: arguments, types: types, returns: returns) + "\n")
        return try JSONParser.parse(socket.readLine())
    }

    func testPackagesFromALocalVenvAndPathFoldersImport() throws {
        let venv = try makeVenv("venv")
        let site = try sitePackages(venv)
        try write([
            "init.yaml": yaml(python: "python: {venv: ./venv, path: [./lib]}", rpcs: [("greet", "[str]", "[str]"), ("where", "[]", "[List[str]]")]),
            "greet.py": "import localpkg, pthmod, libmod\n\ndef greet(name):\n    return localpkg.hello(name) + pthmod.MARK + libmod.MARK\n",
            "where.py": "import localpkg, sys\n\ndef where():\n    return [localpkg.__file__, sys.path[0]]\n",
            "lib/libmod.py": "MARK = '+lib'\n",
            "extra/pthmod.py": "MARK = '+pth'\n",
        ])
        try write([
            String(site.dropFirst(folder.path.count + 1)) + "/localpkg/__init__.py": "def hello(name):\n    return 'hello ' + name\n",
            String(site.dropFirst(folder.path.count + 1)) + "/extra.pth": folder.appendingPathComponent("extra").path + "\n",
        ])
        let server = try serve()
        defer { if server.isRunning { server.terminate() } }
        let deploy = try CLIProcess.run(["deploy"], in: folder)
        XCTAssertEqual(deploy.status, 0, deploy.stdout + deploy.stderr)

        XCTAssertEqual(try call("greet", [.string("venv")], types: ["str"], returns: ["str"]).returnValues, [.string("hello venv+pth+lib")])
        let places = try call("where", returns: ["List[str]"]).returnValues?.first?.arrayValue?.compactMap(\.stringValue) ?? []
        XCTAssertEqual(places.first, site + "/localpkg/__init__.py")
        XCTAssertEqual(places.last, folder.appendingPathComponent("lib").path, "path: folders come first on sys.path")
    }

    func testVenvFlagAppliesToAFirstDeployWithoutConfig() throws {
        let venv = try makeVenv("flagvenv")
        let site = try sitePackages(venv)
        try write([
            "init.yaml": yaml(python: "", rpcs: [("greet", "[str]", "[str]")]),
            "greet.py": "import flagpkg\n\ndef greet(name):\n    return flagpkg.PREFIX + name\n",
            String(site.dropFirst(folder.path.count + 1)) + "/flagpkg.py": "PREFIX = 'flag '\n",
        ])
        let server = try serve(["--venv", venv])
        defer { if server.isRunning { server.terminate() } }
        let deploy = try CLIProcess.run(["deploy"], in: folder)
        XCTAssertEqual(deploy.status, 0, deploy.stdout + deploy.stderr)
        XCTAssertEqual(try call("greet", [.string("x")], types: ["str"], returns: ["str"]).returnValues, [.string("flag x")])
    }

    func testChangingTheVenvTakesEffectAtTheNextStartAndTheReportSaysSo() throws {
        for (name, greeting) in [("venv-a", "from a"), ("venv-b", "from b")] {
            let site = try sitePackages(try makeVenv(name))
            try write([String(site.dropFirst(folder.path.count + 1)) + "/which.py": "GREETING = '\(greeting)'\n"])
        }
        try write([
            "init.yaml": yaml(python: "python: {venv: ./venv-a}", rpcs: [("greet", "[]", "[str]")]),
            "greet.py": "import which\n\ndef greet():\n    return which.GREETING\n",
        ])
        var server = try serve()
        defer { if server.isRunning { server.terminate() } }
        XCTAssertEqual(try CLIProcess.run(["deploy"], in: folder).status, 0)
        XCTAssertEqual(try call("greet", returns: ["str"]).returnValues, [.string("from a")])

        try write(["init.yaml": yaml(python: "python: {venv: ./venv-b}", rpcs: [("greet", "[]", "[str]")])])
        let deploy = try CLIProcess.run(["deploy"], in: folder)
        XCTAssertEqual(deploy.status, 0, deploy.stdout + deploy.stderr)
        XCTAssertTrue(deploy.stdout.contains("s1: python venv \(folder.path)/venv-b takes effect when s1 restarts"), deploy.stdout)
        XCTAssertEqual(try call("greet", returns: ["str"]).returnValues, [.string("from a")], "modules already loaded stay until the restart")

        kill(server.processIdentifier, SIGTERM)
        server.waitUntilExit()
        server = try serve()
        XCTAssertEqual(try call("greet", returns: ["str"]).returnValues, [.string("from b")])
    }

    func testVenvOfAnotherPythonVersionIsRefusedNamingBoth() throws {
        try write([
            "init.yaml": yaml(python: "python:\n  venv: ./oldvenv", rpcs: [("greet", "[str]", "[str]")]),
            "greet.py": "def greet(name):\n    return name\n",
            "oldvenv/pyvenv.cfg": "home = /usr/bin\ninclude-system-site-packages = false\nversion = 3.9.2\n",
            "oldvenv/lib/python3.9/site-packages/README": "",
        ])
        let process = try CLIProcess.start(["serve", "s1", "--state-dir", folder.appendingPathComponent("state").path], in: folder)
        process.waitUntilExit()
        let stderr = CLIProcess.contents(folder.appendingPathComponent("server.err"))
        XCTAssertEqual(process.terminationStatus, 2, stderr)
        XCTAssertTrue(stderr.contains("was made for Python 3.9") && stderr.contains("embeds Python 3.11"), stderr)
    }

    func testMissingVenvFolderIsAConfigurationErrorWithItsLine() throws {
        try write([
            "init.yaml": yaml(python: "python:\n  venv: ./nowhere", rpcs: [("greet", "[str]", "[str]")]),
            "greet.py": "def greet(name):\n    return name\n",
        ])
        let up = try CLIProcess.run(["up", "init.yaml", "--state-dir", folder.appendingPathComponent("state").path], in: folder)
        XCTAssertEqual(up.status, 2, up.stdout + up.stderr)
        XCTAssertTrue(up.stderr.contains("init.yaml:2:9: the venv of server 's1'") && up.stderr.contains("does not exist"), up.stderr)
        let deploy = try CLIProcess.run(["deploy"], in: folder)
        XCTAssertEqual(deploy.status, 2, deploy.stdout + deploy.stderr)
        XCTAssertTrue(deploy.stderr.contains("init.yaml:2:9:"), deploy.stderr)
    }

    func testMissingPackageIsRejectedNamingTheModuleAndSysPath() throws {
        _ = try makeVenv("venv")
        try write([
            "init.yaml": yaml(python: "python: {venv: ./venv}", rpcs: [("greet", "[str]", "[str]")]),
            "greet.py": "import notinstalledanywhere\n\ndef greet(name):\n    return name\n",
        ])
        let server = try serve()
        defer { if server.isRunning { server.terminate() } }
        let deploy = try CLIProcess.run(["deploy"], in: folder)
        XCTAssertEqual(deploy.status, 1, deploy.stdout + deploy.stderr)
        XCTAssertTrue(deploy.stdout.contains("Deploy Rejected") && deploy.stdout.contains("No module named 'notinstalledanywhere'"), deploy.stdout)
        XCTAssertTrue(deploy.stdout.contains("sys.path is [") && deploy.stdout.contains("/venv/lib/python3.11/site-packages"), deploy.stdout)
    }

    /// numpy from a venv that `.ci/run` makes (`PYRPC_NUMPY_VENV`): scalars and arrays come
    /// back as the declared types, and a long numpy operation (which releases the GIL) does not
    /// hold up other calls.
    func testNumpyValuesConvertAndLongOperationsDoNotBlockOtherCalls() throws {
        guard let venv = ProcessInfo.processInfo.environment["PYRPC_NUMPY_VENV"], !venv.isEmpty else {
            throw XCTSkip("PYRPC_NUMPY_VENV is not set (.ci/run makes a venv with numpy and sets it)")
        }
        try write([
            "init.yaml": yaml(python: "python: {venv: \(venv)}", rpcs: [
                ("total", "[List[int]]", "[int]"), ("mean", "[List[float]]", "[float]"), ("arange", "[int]", "[List[int]]"),
                ("grid", "[int]", "[List[List[float]]]"), ("small", "[]", "[float]"), ("crunch", "[int]", "[float]"), ("ping", "[]", "[str]"),
            ]),
            "total.py": "import numpy as np\n\ndef total(xs):\n    return np.asarray(xs).sum()\n",
            "mean.py": "import numpy as np\n\ndef mean(xs):\n    return np.mean(np.asarray(xs, dtype=np.float64))\n",
            "arange.py": "import numpy as np\n\ndef arange(n):\n    return np.arange(n)\n",
            "grid.py": "import numpy as np\n\ndef grid(n):\n    return np.arange(n * 2, dtype=np.float64).reshape(n, 2) / 2\n",
            "small.py": "import numpy as np\n\ndef small():\n    return np.float32(0.5)\n",
            "crunch.py": "import numpy as np\n\ndef crunch(n):\n    a = np.ones((n, n))\n    for _ in range(3):\n        a = a @ a / n\n    return float(a[0, 0])\n",
            "ping.py": "def ping():\n    return 'pong'\n",
        ])
        let server = try serve(["--workers", "4"])
        defer { if server.isRunning { server.terminate() } }
        let deploy = try CLIProcess.run(["deploy"], in: folder)
        XCTAssertEqual(deploy.status, 0, deploy.stdout + deploy.stderr)

        XCTAssertEqual(try call("total", [.array([1, 2, 3])], types: ["List[int]"], returns: ["int"]).returnValues, [.int(6)])
        XCTAssertEqual(try call("mean", [.array([1, 2, 4.5])], types: ["List[float]"], returns: ["float"]).returnValues, [.float(2.5)])
        XCTAssertEqual(try call("arange", [4], types: ["int"], returns: ["List[int]"]).returnValues, [.array([0, 1, 2, 3])])
        XCTAssertEqual(try call("grid", [2], types: ["int"], returns: ["List[List[float]]"]).returnValues,
                       [.array([.array([.float(0), .float(0.5)]), .array([.float(1), .float(1.5)])])])
        XCTAssertEqual(try call("small", returns: ["float"]).returnValues, [.float(0.5)])

        // Find a matrix size whose product takes a while here, then ping while it runs.
        var size = 300
        var seconds = 0.0
        while seconds < 0.3, size < 3000 {
            let start = Date()
            XCTAssertEqual(try call("crunch", [.int(size)], types: ["int"], returns: ["float"], timeout: 60).returnValues, [.float(1)])
            seconds = Date().timeIntervalSince(start)
            if seconds < 0.3 { size = Int(Double(size) * 1.6) }
        }
        let long = try RawSocket(host: "127.0.0.1", port: port, timeout: 60)
        defer { long.close() }
        let longStart = Date()
        try long.send(requestLine(service: "pkg", rpc: "crunch", arguments: [.int(size)], types: ["int"], returns: ["float"]) + "\n")
        usleep(50_000)
        let pingStart = Date()
        XCTAssertEqual(try call("ping", returns: ["str"]).returnValues, [.string("pong")])
        let pingSeconds = Date().timeIntervalSince(pingStart)
        XCTAssertEqual(try JSONParser.parse(long.readLine()).returnValues, [.float(1)])
        let longSeconds = Date().timeIntervalSince(longStart)
        print("numpy: crunch(\(size)) took \(longSeconds) s; a ping during it took \(pingSeconds) s")
        XCTAssertLessThan(pingSeconds, longSeconds / 2, "a call waited for numpy's long operation")
    }
}
