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
    var namespace = ""
    var hostSide = ""
    var subnet = 0

    override func setUp() async throws {
        guard getuid() == 0, FileManager.default.isExecutableFile(atPath: "/usr/sbin/ip") else {
            throw XCTSkip("needs root and iproute2 to make a network namespace for the client host")
        }
        folder = try makeTemporaryFolder()
        subnet = Int.random(in: 10...250)
        namespace = "pyrpc-guard-\(subnet)"
        hostSide = "pgh\(subnet)"
        let peerSide = "pgn\(subnet)"
        _ = try? ip(["netns", "del", namespace])
        try ip(["netns", "add", namespace])
        try ip(["link", "add", hostSide, "type", "veth", "peer", "name", peerSide])
        try ip(["link", "set", peerSide, "netns", namespace])
        try ip(["addr", "add", "\(serverAddress)/24", "dev", hostSide])
        try ip(["link", "set", hostSide, "up"])
        try ip(["netns", "exec", namespace, "ip", "addr", "add", "\(clientAddress)/24", "dev", peerSide])
        try ip(["netns", "exec", namespace, "ip", "link", "set", peerSide, "up"])
        try ip(["netns", "exec", namespace, "ip", "link", "set", "lo", "up"])
    }

    override func tearDown() async throws {
        if !namespace.isEmpty { _ = try? ip(["netns", "del", namespace]) }
        if let folder { try? FileManager.default.removeItem(at: folder) }
    }

    var serverAddress: String { "10.213.\(subnet).1" }
    var clientAddress: String { "10.213.\(subnet).2" }

    @discardableResult
    private func ip(_ arguments: [String]) throws -> Int32 {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/sbin/ip")
        process.arguments = arguments
        process.standardError = FileHandle.nullDevice
        try process.run()
        process.waitUntilExit()
        guard process.terminationStatus == 0 else { throw RawSocket.Failure(description: "ip \(arguments.joined(separator: " ")) failed") }
        return process.terminationStatus
    }

    /// `pyrpc deploy` run from inside the client host's namespace.
    private func deployFromClientHost(token: String? = nil) throws -> CLIProcess.Output {
        var arguments = ["netns", "exec", namespace]
        if let token { arguments += ["env", "PYRPC_DEPLOY_TOKEN=\(token)"] }
        arguments += [CLIProcess.binary, "deploy"]
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/sbin/ip")
        process.arguments = arguments
        process.currentDirectoryURL = folder
        let out = Pipe()
        process.standardOutput = out
        process.standardError = out
        try process.run()
        let text = String(decoding: out.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        process.waitUntilExit()
        return CLIProcess.Output(status: process.terminationStatus, stdout: text, stderr: "")
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
                rpc:
                  - add: {args: [int, int], returns: [int], src: add.py}
                """,
            "add.py": "def add(a, b):\n    return a + b\n",
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
        XCTAssertEqual(try deployFromClientHost(token: "wrong").status, 1)
        let accepted = try deployFromClientHost(token: secret)
        XCTAssertEqual(accepted.status, 0, accepted.stdout)
        XCTAssertFalse(CLIProcess.contents(folder.appendingPathComponent("server.err")).contains(secret), "the token was logged")
    }
}
