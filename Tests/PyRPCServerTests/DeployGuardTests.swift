import Foundation
import XCTest

#if canImport(Glibc)
import Glibc
#endif

/// Deploy is code execution: without a token only this machine may deploy — also through
/// its own LAN address — and a client host of the network may not. Hosts are network
/// namespaces this test makes (root only; elsewhere it skips and says why).
final class DeployGuardTests: XCTestCase {
    var folder: URL!
    var host: ClientHost!

    override func setUp() async throws {
        guard ClientHost.isAvailable else {
            throw XCTSkip("needs root and iproute2 to make a network namespace for the client host")
        }
        folder = try makeTemporaryFolder()
        host = try ClientHost()
    }

    override func tearDown() async throws {
        host?.remove()
        if let folder { try? FileManager.default.removeItem(at: folder) }
    }

    var serverAddress: String { host.serverAddress }
    var clientAddress: String { host.clientAddress }

    /// `pyrpc deploy` run from inside the client host's namespace.
    private func deployFromClientHost(token: String? = nil, _ extra: [String] = ["--insecure-plaintext-token"]) throws -> CLIProcess.Output {
        try fromClientHost(["deploy"] + extra, token: token)
    }

    /// `pyrpc ARGUMENTS` run from inside the client host's namespace.
    private func fromClientHost(_ command: [String], token: String? = nil) throws -> CLIProcess.Output {
        try host.pyrpc(command, in: folder, token: token)
    }

    private func writeNetwork(port: Int) throws {
        try writeFiles([
            "init.yaml": """
                network:
                  servers:
                    - s1: {ip: \(serverAddress), port: \(port)}
                  clients:
                    - c1: {ip: \(clientAddress)}
                service:
                  - calc: {providers: [s1], tenants: [c1], rpcs: [add]}
                  - ops: {providers: [s1], tenants: [], rpcs: [reset]}
                rpc:
                  - add: {args: [int, int], returns: [int], src: add.py}
                  - reset: {args: [], returns: [int], src: \(folder.path)/reset.py}
                """,
            "add.py": "def add(a, b):\n    return a + b\n",
            "reset.py": "def reset():\n    return 0\n",
        ], in: folder)
    }

    private func serve(port: Int, environment: [String: String] = [:]) throws -> Process {
        let process = try CLIProcess.start(["serve", "s1", "--state-dir", folder.appendingPathComponent("state").path], in: folder, environment: environment)
        _ = CLIProcess.waitForOutput("serving on", in: folder.appendingPathComponent("server.out"), of: process)
        return process
    }

    func testWithoutATokenOnlyThisMachineMayDeploy() throws {
        let port = CLIProcess.freePort()
        try writeNetwork(port: port)
        let server = try serve(port: port)
        defer { server.terminate(); server.waitUntilExit() }
        let log = { CLIProcess.contents(self.folder.appendingPathComponent("server.err")) }
        XCTAssertTrue(log().contains("without a deploy token: only this machine may deploy"), log())

        // From this machine through its own LAN address: accepted (the peer is one of ours).
        let own = try CLIProcess.run(["deploy"], in: folder)
        XCTAssertEqual(own.status, 0, own.stdout + own.stderr)

        // From a client host declared in the network: refused, and logged with its address.
        let fromClient = try deployFromClientHost()
        XCTAssertEqual(fromClient.status, 1, fromClient.stdout)
        XCTAssertTrue(fromClient.stdout.contains("Deploy Rejected") && fromClient.stdout.contains("only this machine may deploy"), fromClient.stdout)
        XCTAssertTrue(log().contains("unauthorized deploy from \(clientAddress) refused"), log())
    }

    func testWithATokenAnyHostThatHasItMayDeploy() throws {
        let port = CLIProcess.freePort()
        try writeNetwork(port: port)
        let secret = "s3cret-\(UUID().uuidString)"
        let server = try serve(port: port, environment: ["PYRPC_DEPLOY_TOKEN": secret])
        defer { server.terminate(); server.waitUntilExit() }
        let log = { CLIProcess.contents(self.folder.appendingPathComponent("server.err")) }
        XCTAssertTrue(log().contains("in plain text with a deploy token"), log())
        // Not in plain text to another host unless told: refused before anything is sent.
        let refused = try deployFromClientHost(token: secret, [])
        XCTAssertEqual(refused.status, 1, refused.stdout)
        XCTAssertTrue(refused.stdout.contains("refusing to send the deploy token in plain text") && refused.stdout.contains("--insecure-plaintext-token"), refused.stdout)
        XCTAssertFalse(log().contains("deploy from \(clientAddress)"), "the refused deploy reached the server:\n\(log())")
        XCTAssertEqual(try deployFromClientHost(token: "wrong").status, 1)
        let accepted = try deployFromClientHost(token: secret)
        XCTAssertEqual(accepted.status, 0, accepted.stdout)
        XCTAssertFalse(log().contains(secret), "the token was logged")
    }

    /// LS-REQ and STATS-REQ: everything for this host and the deploy token; a declared client
    /// sees its services, without hashes or processes; any other address gets nothing. And no
    /// path of the deploying machine reaches the server.
    func testIntrospectionIsForTheOperatorAndTheTenants() throws {
        let port = CLIProcess.freePort()
        try writeNetwork(port: port)
        let secret = "s3cret-\(UUID().uuidString)"
        let server = try CLIProcess.start(["serve", "s1", "--state-dir", folder.appendingPathComponent("state").path, "--processes", "2"],
                                          in: folder, environment: ["PYRPC_DEPLOY_TOKEN": secret])
        defer { server.terminate(); server.waitUntilExit() }
        XCTAssertTrue(CLIProcess.waitForOutput("serving on", in: folder.appendingPathComponent("server.out"), of: server))
        let log = { CLIProcess.contents(self.folder.appendingPathComponent("server.err")) }
        try secret.write(to: folder.appendingPathComponent("token"), atomically: true, encoding: .utf8)
        let deploy = try CLIProcess.run(["deploy", "--deploy-token-file", "token"], in: folder)
        XCTAssertEqual(deploy.status, 0, deploy.stdout + deploy.stderr)
        let manifest = CLIProcess.contents(folder.appendingPathComponent("state/manifest.json"))
        XCTAssertTrue(manifest.contains("reset.py") && !manifest.contains(folder.path), "a path of the deploying machine reached the server: \(manifest)")

        // This host: everything.
        let list = try CLIProcess.run(["ls"], in: folder)
        XCTAssertTrue(list.stdout.contains("calc.add") && list.stdout.contains("ops.reset"), list.stdout)
        let stats = try CLIProcess.run(["stats"], in: folder)
        XCTAssertTrue(stats.stdout.contains("ops.reset") && stats.stdout.contains("pid"), stats.stdout)

        // The tenant c1, from its declared address: its service, no hash, no processes.
        let tenantList = try fromClientHost(["ls"])
        XCTAssertEqual(tenantList.status, 0, tenantList.stdout)
        XCTAssertTrue(tenantList.stdout.contains("calc.add") && !tenantList.stdout.contains("ops.reset"), tenantList.stdout)
        let hash = try XCTUnwrap(list.stdout.split(separator: "\n").first { $0.contains("calc.add") }?.split(separator: " ").last)
        XCTAssertFalse(tenantList.stdout.contains(hash), tenantList.stdout)
        let tenantStats = try fromClientHost(["stats", "--as", "c1"])
        XCTAssertEqual(tenantStats.status, 0, tenantStats.stdout)
        XCTAssertTrue(tenantStats.stdout.contains("calc.add") && !tenantStats.stdout.contains("ops.reset") && !tenantStats.stdout.contains("pid"), tenantStats.stdout)

        // The same host from an address no client is declared at: nothing, unless it has the
        // token (sent in plain text only when told).
        let other = "10.213.\(host.subnet).3"
        try host.useSourceAddress(other)
        for command in ["ls", "stats"] {
            let refused = try fromClientHost([command])
            XCTAssertNotEqual(refused.status, 0, refused.stdout)
            XCTAssertTrue(refused.stdout.contains("Client Not Registered"), refused.stdout)
            XCTAssertFalse(refused.stdout.contains("calc.add"), refused.stdout)
            XCTAssertFalse(try fromClientHost([command], token: secret).stdout.contains("calc.add"), "the token went in plain text")
            let withToken = try fromClientHost([command, "--insecure-plaintext-token"], token: secret)
            XCTAssertTrue(withToken.stdout.contains("ops.reset"), withToken.stdout)
        }
        XCTAssertTrue(log().contains("unauthorized LS-REQ from \(other) refused"), log())
        XCTAssertTrue(log().contains("unauthorized STATS-REQ from \(other) refused"), log())
    }
}
