import Foundation
import PyRPCClient
import PyRPCConfig

/// Starting the servers under test: pyrpc deployed with the benchmark's services, the C
/// ceiling and the Python baseline (TLS and gRPC-Python: `BenchSuite+TLS`).
extension BenchSuite {
    /// pyrpc with `add`, `total` and `echo` deployed, and `extra` rpcs importing from `venv`.
    /// `binary`: the pyrpc-bench whose server it is (`--versus`: another build's).
    func startPyRPC(label: String, binary: String = CommandLine.arguments[0], name: String = "pyrpc", venv: String? = nil,
                    extra: [(name: String, args: String, returns: String, src: String)] = []) async throws -> ServerUnderTest {
        let port = freePort()
        let state = folder.appendingPathComponent("state-\(label)")
        let server = try ServerUnderTest.launch(
            name: name, port: port,
            command: [binary, "serve-child", "--port", "\(port)", "--state-dir", state.path],
            log: folder.appendingPathComponent("\(label).log"))
        servers.append(server)
        let config = try writeNetwork(port: port, rpcs: [
            ("add", "[int, int]", "[int]", benchmarksFolder.appendingPathComponent("services/add.py").path),
            ("total", "[\"List[float]\"]", "[float]", benchmarksFolder.appendingPathComponent("services/total.py").path),
            ("echo", "[str]", "[str]", benchmarksFolder.appendingPathComponent("services/echo.py").path),
            ("total_floor", "[]", "[float]", benchmarksFolder.appendingPathComponent("services/total_floor.py").path),
        ] + extra, name: label, venv: venv)
        _ = try await Deployer.deploy(config, to: config.servers[0], token: nil)
        return server
    }

    func startCeiling() throws -> ServerUnderTest {
        let binary = folder.appendingPathComponent("ceiling").path
        let compile = Process()
        compile.executableURL = URL(fileURLWithPath: "/usr/bin/cc")
        compile.arguments = ["-O2", "-o", binary, benchmarksFolder.appendingPathComponent("ceiling/ceiling.c").path]
        try compile.run()
        compile.waitUntilExit()
        guard compile.terminationStatus == 0 else { throw BenchError("cannot compile the ceiling server (cc failed)") }
        let port = freePort()
        let server = try ServerUnderTest.launch(name: "C ceiling", port: port, command: [binary, "\(port)"], log: folder.appendingPathComponent("ceiling.log"))
        servers.append(server)
        return server
    }

    func startBaseline() throws -> ServerUnderTest {
        let table: [String: [String]] = [
            "bench.add(int,int)": [benchmarksFolder.appendingPathComponent("services/add.py").path, "add"],
            "bench.total(List[float])": [benchmarksFolder.appendingPathComponent("services/total.py").path, "total"],
            "bench.echo(str)": [benchmarksFolder.appendingPathComponent("services/echo.py").path, "echo"],
        ]
        let tablePath = folder.appendingPathComponent("baseline.json")
        try JSONSerialization.data(withJSONObject: table).write(to: tablePath)
        let python = FileManager.default.isExecutableFile(atPath: "/usr/bin/python3") ? "/usr/bin/python3" : "python3"
        let port = freePort()
        let server = try ServerUnderTest.launch(
            name: "Python baseline", port: port,
            command: [python, benchmarksFolder.appendingPathComponent("baseline/course_server.py").path, "\(port)", tablePath.path],
            log: folder.appendingPathComponent("baseline.log"))
        servers.append(server)
        return server
    }

    /// An init.yaml for one server `s1` at `port` with service `bench` (scripts importing from `venv`).
    func writeNetwork(port: Int, rpcs: [(name: String, args: String, returns: String, src: String)], name: String, venv: String? = nil) throws -> NetworkConfig {
        var yaml = venv.map { "python: {venv: \"\($0)\"}\n" } ?? ""
        yaml += """
            network:
              servers:
                - s1: {ip: 127.0.0.1, port: \(port)}
              clients:
                - c1: {ip: 127.0.0.1}
            service:
              - bench: {providers: [s1], tenants: [c1]}
            rpc:
              bench:

            """
        for rpc in rpcs {
            yaml += "    - \(rpc.name): {args: \(rpc.args), returns: \(rpc.returns), src: \"\(rpc.src)\"}\n"
        }
        let path = folder.appendingPathComponent("\(name).yaml")
        try yaml.write(to: path, atomically: true, encoding: .utf8)
        return try ConfigLoader.load(path: path.path)
    }
}
