import Foundation
import PyRPCClient
import PyRPCConfig
import PyRPCServer
import PyRPCWire
import XCTest

/// `pyrpc deploy` against real servers: hash sync, atomic swap, persistence, the guard.
final class DeployTests: XCTestCase {
    var folder: URL!
    var server: PyRPCServer!
    var port = 0

    override func setUp() async throws {
        folder = try makeTemporaryFolder()
        try await startServer()
    }

    override func tearDown() async throws {
        await server?.stop()
        try? FileManager.default.removeItem(at: folder)
    }

    private func startServer(token: String? = nil) async throws {
        var options = ServerOptions()
        options.stateDirectory = folder.appendingPathComponent("state").path
        options.deployToken = token
        server = try PyRPCServer(name: "s1", options: options)
        port = try await server.start(host: "127.0.0.1", port: 0).port!
    }

    /// Writes init.yaml declaring `rpcs` (name → script text, function = name), all in service svc.
    private func writeNetwork(_ rpcs: [(name: String, script: String)]) throws -> NetworkConfig {
        var yaml = """
            network:
              servers:
                - s1: {ip: 127.0.0.1, port: \(port)}
              clients:
                - c1: {ip: 127.0.0.1}
            service:
              - svc:
                  providers: [s1]
                  tenants: [c1]
                  rpcs: [\(rpcs.map(\.name).joined(separator: ", "))]
            rpc:

            """
        for rpc in rpcs {
            try rpc.script.write(to: folder.appendingPathComponent("\(rpc.name).py"), atomically: true, encoding: .utf8)
            yaml += "  - \(rpc.name): {args: [], returns: [str], src: \(rpc.name).py}\n"
        }
        try yaml.write(to: folder.appendingPathComponent("init.yaml"), atomically: true, encoding: .utf8)
        return try ConfigLoader.load(path: folder.appendingPathComponent("init.yaml").path)
    }

    private func deploy(_ config: NetworkConfig, token: String? = nil) async throws -> DeploySummary {
        try await Deployer.deploy(config, to: config.servers[0], token: token)
    }

    private func call(_ rpc: String) async throws -> String {
        let client = RPCClient(host: "127.0.0.1", port: port, client: "c1")
        defer { client.close() }
        return try await client.call("svc", rpc)
    }

    private func script(_ value: String) -> String { "def f():\n    return \(value)\n" }

    private func named(_ name: String, _ body: String) -> (name: String, script: String) {
        (name, "def \(name)():\n    return \(body)\n")
    }

    func testSyncSendsOnlyWhatChanged() async throws {
        let rpcs = (0..<30).map { named("r\($0)", "'v1 \($0)'") }
        var config = try writeNetwork(rpcs)
        let first = try await deploy(config)
        XCTAssertEqual(first.added, 30)
        XCTAssertEqual(first.roundTrips, 2)
        XCTAssertEqual(first.scriptBytesSent, rpcs.map(\.script.utf8.count).reduce(0, +))
        let answer = try await call("r7")
        XCTAssertEqual(answer, "v1 7")

        let again = try await deploy(config)
        XCTAssertEqual(again.scriptBytesSent, 0, "an unchanged config sends no script body")
        XCTAssertEqual(again.roundTrips, 1)
        XCTAssertEqual(again.unchanged, 30)
        XCTAssertEqual(again.added + again.replaced + again.removed, 0)

        var changed = rpcs
        changed[3] = named("r3", "'v2 3'")
        config = try writeNetwork(changed)
        let third = try await deploy(config)
        XCTAssertEqual(third.scriptBytesSent, changed[3].script.utf8.count, "only the changed script is sent")
        XCTAssertEqual(third.roundTrips, 2)
        XCTAssertEqual(third.replaced, 1)
        XCTAssertEqual(third.unchanged, 29)
        let updated = try await call("r3")
        XCTAssertEqual(updated, "v2 3")
    }

    func testOneConnectionSeesEveryDeploy() async throws {
        // The same request again on one connection is read by difference and dispatched as
        // before (the connection remembers it); a deploy in between must still be seen.
        let socket = try RawSocket(host: "127.0.0.1", port: port)
        defer { socket.close() }
        try await checkEveryDeployIsSeen { rpc in
            try socket.send(self.request(rpc) + "\n")
            return try JSONParser.parse(try socket.readLine())
        }
    }

    func testOneShotConnectionsSeeEveryDeploy() async throws {
        // Each connection takes over the request memory of the last one from its address; a
        // deploy in between must still be seen.
        try await checkEveryDeployIsSeen { rpc in
            let socket = try RawSocket(host: "127.0.0.1", port: self.port)
            defer { socket.close() }
            try socket.send(self.request(rpc))
            socket.shutdownWrite()
            let answer = try JSONParser.parse(try socket.readLine())
            XCTAssertTrue(try socket.readsEOF())
            return answer
        }
    }

    private func request(_ rpc: String) -> String {
        requestLine(service: "svc", rpc: rpc, arguments: [], types: [], returns: ["str"])
    }

    /// Deploys `a` and `b`, swaps `a`, then removes it, asking `ask` for the answer to an rpc
    /// after each step.
    private func checkEveryDeployIsSeen(_ ask: (String) throws -> JSONValue) async throws {
        _ = try await deploy(try writeNetwork([named("a", "'v1'"), named("b", "'b'")]))
        XCTAssertEqual(try ask("a").returnValues, ["v1"])
        XCTAssertEqual(try ask("a").returnValues, ["v1"])
        _ = try await deploy(try writeNetwork([named("a", "'v2'"), named("b", "'b'")]))
        XCTAssertEqual(try ask("a").returnValues, ["v2"], "a swapped script answers")
        _ = try await deploy(try writeNetwork([named("b", "'b'")]))
        XCTAssertEqual(try ask("a").exceptionType, "RPC Not Found", "a removed rpc is gone")
        XCTAssertEqual(try ask("b").returnValues, ["b"])
    }

    func testRemovedRPCIsNotFound() async throws {
        _ = try await deploy(try writeNetwork([named("a", "'a'"), named("b", "'b'")]))
        let report = try await deploy(try writeNetwork([named("a", "'a'")]))
        XCTAssertEqual(report.removed, 1)
        do {
            _ = try await call("b")
            XCTFail("b was removed")
        } catch {
            XCTAssertEqual(error as? RPCClientError, .rpc(RPCError(.rpcNotFound, "service 'svc' has no rpc 'b'; it has a")))
        }
    }

    func testSyntaxErrorIsRejectedAndTheOldVersionKeepsAnswering() async throws {
        _ = try await deploy(try writeNetwork([named("a", "'old'"), named("b", "'b'")]))
        let broken = try writeNetwork([("a", "def a():\n    return 'new'\n"), ("b", "def b(:\n    return 1\n")])
        do {
            _ = try await deploy(broken)
            XCTFail("a syntax error must reject the deploy")
        } catch let failure as DeployFailure {
            XCTAssertTrue(failure.message.contains("b.py:1:"), failure.message)
            XCTAssertTrue(failure.message.contains("SyntaxError"), failure.message)
        }
        let a = try await call("a")
        XCTAssertEqual(a, "old", "nothing of a rejected deploy is applied")
        XCTAssertEqual(server.generation, 1)
        // A missing function is rejected the same way.
        let missing = try writeNetwork([("a", "def other():\n    return 1\n")])
        do {
            _ = try await deploy(missing)
            XCTFail("a missing function must reject the deploy")
        } catch let failure as DeployFailure {
            XCTAssertTrue(failure.message.contains("defines no function 'a'"), failure.message)
        }
    }

    func testCallInFlightFinishesOnItsVersion() async throws {
        let slow = ("slow", "import time\n\ndef slow():\n    time.sleep(1.0)\n    return 'old'\n")
        _ = try await deploy(try writeNetwork([slow]))
        let port = self.port
        let inFlight = Task {
            let client = RPCClient(host: "127.0.0.1", port: port, client: "c1")
            defer { client.close() }
            return try await client.call("svc", "slow") as String
        }
        try await Task.sleep(for: .milliseconds(300))
        _ = try await deploy(try writeNetwork([("slow", "def slow():\n    return 'new'\n")]))
        let fresh = try await call("slow")
        XCTAssertEqual(fresh, "new")
        let old = try await inFlight.value
        XCTAssertEqual(old, "old", "the call started before the swap finishes on the old version")
    }

    func testModuleStateResetsOnlyForChangedScripts() async throws {
        let counter = "n = 0\n\ndef %@():\n    global n\n    n += 1\n    return str(n)\n"
        let kept = ("kept", counter.replacingOccurrences(of: "%@", with: "kept"))
        let changed = ("changed", counter.replacingOccurrences(of: "%@", with: "changed"))
        _ = try await deploy(try writeNetwork([kept, changed]))
        for _ in 0..<3 {
            _ = try await call("kept")
            _ = try await call("changed")
        }
        _ = try await deploy(try writeNetwork([kept, ("changed", changed.1 + "# edited\n")]))
        let keptNext = try await call("kept")
        let changedNext = try await call("changed")
        XCTAssertEqual(keptNext, "4", "an unchanged script keeps its module state")
        XCTAssertEqual(changedNext, "1", "a changed script starts fresh")
    }

    func testRestartServesTheLastDeployedState() async throws {
        _ = try await deploy(try writeNetwork([named("a", "'persisted'")]))
        await server.stop()
        try await startServer()
        XCTAssertEqual(server.generation, 0)
        let restored = try await server.restoreState()
        XCTAssertEqual(restored, 1)
        let a = try await call("a")
        XCTAssertEqual(a, "persisted")
    }

    func testTokenIsRequiredWhenConfigured() async throws {
        await server.stop()
        try await startServer(token: "sesame")
        let config = try writeNetwork([named("a", "'a'")])
        for token in [nil, "wrong"] as [String?] {
            do {
                _ = try await deploy(config, token: token)
                XCTFail("deploy without the right token must be refused")
            } catch let failure as DeployFailure {
                XCTAssertTrue(failure.message.hasPrefix("Deploy Rejected:"), failure.message)
            }
        }
        XCTAssertEqual(server.generation, 0)
        let report = try await deploy(config, token: "sesame")
        XCTAssertEqual(report.added, 1)
    }
}
