import Foundation
import PyRPCClient
import PyRPCConfig
import PyRPCServer
import PyRPCWire
import XCTest

#if canImport(Glibc)
import Glibc
#endif

/// Deploys larger than a message (SPEC §6): scripts travel in pieces under the server's
/// message limit and are swapped in all or nothing; a deploy cut half-way leaves the running
/// generation serving, and the next attempt resumes. A real `pyrpc serve` and `pyrpc deploy`.
final class BigDeployTests: ServerProcessTestCase {
    /// 30 scripts of 1 MB and one of 40 MB, with every default: served, each script whole.
    func testThirtyScriptsOfOneMegabyteAndOneOfFortyDeployWithDefaults() throws {
        var rpcs: [(String, String, String, String)] = []
        var digests: [String: String] = [:]
        for index in 0..<30 {
            digests["t\(index)"] = try writeTableScript("t\(index)", bytes: 1_000_000)
            rpcs.append(("t\(index)", "[]", "[str]", "t\(index).py"))
        }
        digests["huge"] = try writeTableScript("huge", bytes: 40_000_000)
        rpcs.append(("huge", "[]", "[str]", "huge.py"))
        try write(oneServerNetwork(port: port, rpcs: rpcs), to: "init.yaml")
        try startServer()

        let deploy = try CLIProcess.run(["deploy", "init.yaml"], in: folder)
        XCTAssertEqual(deploy.status, 0, deploy.stdout + deploy.stderr)
        XCTAssertTrue(deploy.stdout.contains("s1: sending "), "no progress for a deploy in pieces:\n\(deploy.stdout)")
        // 71 MB of scripts (more escaped) in messages of at most 8 MiB, plus the manifest's two.
        let trips = try XCTUnwrap(roundTrips(in: deploy.stdout), deploy.stdout)
        XCTAssertGreaterThanOrEqual(trips, 2 + 9, deploy.stdout)
        XCTAssertLessThanOrEqual(trips, 2 + 12, deploy.stdout)
        for name in ["huge", "t0", "t17", "t29"] {
            XCTAssertEqual(try call(name), digests[name], "\(name) was not served whole")
        }
        // The message limit still holds for calls.
        let socket = try RawSocket(host: "127.0.0.1", port: port)
        defer { socket.close() }
        let argument = String(repeating: "x", count: ServerOptions().maxMessageBytes)
        try socket.send(#"{"header":"RPC-REQ","value":{"client":"c1","service":"svc","rpc":"t0","args":[""# + argument + "\"]}}\n")
        let answer = try socket.readLine()
        XCTAssertTrue(answer.contains("Bad Request") && answer.contains("--max-message-bytes"), answer)
    }

    /// With a small --max-message-bytes, a deploy still goes through, in more messages; a
    /// call over the limit is still refused.
    func testDeployFollowsTheServersMessageLimit() throws {
        var digests: [String: String] = [:]
        for name in ["a", "b", "c"] { digests[name] = try writeTableScript(name, bytes: 300_000) }
        try write(oneServerNetwork(port: port, rpcs: ["a", "b", "c"].map { ($0, "[]", "[str]", "\($0).py") }), to: "init.yaml")
        try startServer(["--max-message-bytes", "65536"])

        let deploy = try CLIProcess.run(["deploy", "init.yaml"], in: folder)
        XCTAssertEqual(deploy.status, 0, deploy.stdout + deploy.stderr)
        let trips = try XCTUnwrap(roundTrips(in: deploy.stdout), deploy.stdout)
        XCTAssertGreaterThanOrEqual(trips, 2 + 900_000 / 65536, deploy.stdout)
        for (name, digest) in digests { XCTAssertEqual(try call(name), digest) }
        let socket = try RawSocket(host: "127.0.0.1", port: port)
        defer { socket.close() }
        try socket.send(#"{"header":"RPC-REQ","value":{"client":"c1","service":"svc","rpc":"a","args":[""# + String(repeating: "y", count: 70_000) + "\"]}}\n")
        let answer = try socket.readLine()
        XCTAssertTrue(answer.contains("Bad Request") && answer.contains("65536"), answer)
    }

    /// A deploy's messages are input like any other: with little --max-buffered-bytes, the
    /// server asks for messages that leave room in it, and the deploy goes through.
    func testDeployFitsAServerWithLittleBufferedInput() throws {
        let digest = try writeTableScript("a", bytes: 1_000_000)
        try write(oneServerNetwork(port: port, rpcs: [("a", "[]", "[str]", "a.py")]), to: "init.yaml")
        try startServer(["--max-buffered-bytes", "300000"])

        let deploy = try CLIProcess.run(["deploy", "init.yaml"], in: folder)
        XCTAssertEqual(deploy.status, 0, deploy.stdout + deploy.stderr)
        XCTAssertGreaterThanOrEqual(try XCTUnwrap(roundTrips(in: deploy.stdout)), 2 + 1_000_000 / 150_000, deploy.stdout)
        XCTAssertEqual(try call("a"), digest)
    }

    /// The deployer killed half-way: the previous generation keeps serving, and deploying
    /// again succeeds, sending only what the server did not keep.
    func testDeployerKilledHalfWayLeavesThePreviousGenerationAndARetryResumes() throws {
        try writeFirstGeneration()
        let digest = try writeTableScript("huge", bytes: 40_000_000, file: "huge-new.py")
        try write(oneServerNetwork(port: port, rpcs: [("huge", "[]", "[str]", "huge-new.py")]), to: "big.yaml")

        let deployer = try CLIProcess.start(["deploy", "big.yaml"], in: folder, logName: "deploy")
        XCTAssertTrue(wait(120) { occurrences(of: "bytes in 1 piece") >= 1 || !deployer.isRunning }, log)
        kill(deployer.processIdentifier, SIGKILL)
        deployer.waitUntilExit()
        XCTAssertEqual(deployer.terminationReason, .uncaughtSignal, "the deploy ended before it could be interrupted")
        try assertOldServedThenRetryResumes(to: digest)
    }

    /// A connection the server cuts (its --message-timeout) in the middle of a piece: the
    /// previous generation keeps serving, nothing half-written is taken for a script, and the
    /// next deploy succeeds from what the server kept.
    func testDeployCutByTheServersMessageTimeoutLeavesThePreviousGeneration() throws {
        // Messages of 1 MiB at most, so that the retry too sends this script in pieces.
        try writeFirstGeneration(serverFlags: ["--message-timeout", "2", "--max-message-bytes", "1048576"])
        let digest = try writeTableScript("huge", bytes: 3_000_000, file: "huge-new.py")
        try write(oneServerNetwork(port: port, rpcs: [("huge", "[]", "[str]", "huge-new.py")]), to: "big.yaml")
        let network = try ConfigLoader.load(path: folder.appendingPathComponent("big.yaml").path)
        let built = try ManifestBuilder.build(network, server: "s1")
        let hash = try XCTUnwrap(built.sources.keys.first)

        let socket = try RawSocket(host: "127.0.0.1", port: port, timeout: 30)
        defer { socket.close() }
        try socket.send(DeployRequest(manifest: built.manifest, token: nil, firstStep: true).envelope.encoded())
        let need = try DeployNeed(Envelope(message: JSONParser.parse(Array(socket.readLine().utf8))))
        XCTAssertEqual(need.missing, [hash])
        let limit = try XCTUnwrap(need.maxMessageBytes)
        let plan = try DeployPlan([DeployPlan.Script(hash: hash, text: built.sources[hash]!)], server: "s1", token: nil, budget: limit)
        XCTAssertGreaterThanOrEqual(plan.messages.count, 3)
        try socket.send(plan.messages[0].envelope.encoded())
        XCTAssertTrue(try socket.readLine().contains("DEPLOY-RECEIVED"))
        let second = plan.messages[1].envelope.encoded()
        try socket.send(Array(second[..<(second.count / 2)]))
        let refusal = try socket.readLine()
        XCTAssertTrue(refusal.contains("--message-timeout"), refusal)
        XCTAssertTrue(try socket.readsEOF(), "the server kept a connection whose message stalled past --message-timeout")

        try assertOldServedThenRetryResumes(to: digest)
    }

    /// Over --max-deploy-bytes: `Deploy Rejected` naming the flag, before any script is sent,
    /// and for pieces sent without a manifest; the running generation stays.
    func testDeployOverMaxDeployBytesIsRejectedWithItsName() throws {
        try writeFirstGeneration(serverFlags: ["--max-deploy-bytes", "1000000"])
        _ = try writeTableScript("huge", bytes: 2_000_000, file: "huge-new.py")
        try write(oneServerNetwork(port: port, rpcs: [("huge", "[]", "[str]", "huge-new.py")]), to: "big.yaml")

        let deploy = try CLIProcess.run(["deploy", "big.yaml"], in: folder)
        XCTAssertEqual(deploy.status, 1, deploy.stdout + deploy.stderr)
        XCTAssertTrue(deploy.stdout.contains("Deploy Rejected") && deploy.stdout.contains("--max-deploy-bytes (1000000)"), deploy.stdout)
        XCTAssertFalse(deploy.stdout.contains("s1: sending "), "script bytes were sent for a deploy over the limit:\n\(deploy.stdout)")
        XCTAssertEqual(try call("huge"), "old")

        let text = String(repeating: "z", count: 1000)
        let pieces = DeployPieces(server: "s1", pieces: [ScriptPiece(hash: String(repeating: "ab", count: 32), size: 2_000_000, offset: 0, text: text)], token: nil)
        let socket = try RawSocket(host: "127.0.0.1", port: port)
        defer { socket.close() }
        try socket.send(pieces.envelope.encoded())
        let answer = try socket.readLine()
        XCTAssertTrue(answer.contains("Deploy Rejected") && answer.contains("--max-deploy-bytes"), answer)
        XCTAssertEqual(try call("huge"), "old")
    }

    // MARK: - Helpers

    /// After a cut deploy: generation 1 still serves, and deploying big.yaml again succeeds,
    /// resuming from what the server kept.
    private func assertOldServedThenRetryResumes(to digest: String) throws {
        XCTAssertEqual(try call("huge"), "old", "a deploy cut half-way changed what is served")
        let retry = try CLIProcess.run(["deploy", "big.yaml"], in: folder)
        XCTAssertEqual(retry.status, 0, retry.stdout + retry.stderr)
        XCTAssertTrue(retry.stdout.contains("resumed: "), "the retry sent everything again:\n\(retry.stdout)")
        XCTAssertEqual(try call("huge"), digest)
    }

    /// Writes `name.py` (or `file`): a table of about `bytes` bytes of text with quotes, tabs,
    /// newlines, a control character and characters of two, three and four UTF-8 bytes, so
    /// pieces are cut beside escapes and inside characters; `name()` answers the table's
    /// SHA-256, returned here.
    @discardableResult
    private func writeTableScript(_ name: String, bytes: Int, file: String? = nil) throws -> String {
        var table = ""
        table.reserveCapacity(bytes + 100)
        var row = 0
        while table.utf8.count < bytes {
            table += "row \(name) \(row): é漢😀 \"q\"\t\u{01} \(row * 7919 % 10007)\n"
            row += 1
        }
        let script = "import hashlib\n\nTABLE = \"\"\"\(table)\"\"\"\n\n\ndef \(name)():\n    return hashlib.sha256(TABLE.encode()).hexdigest()\n"
        try write(script, to: file ?? "\(name).py")
        return ScriptHash.sha256(table)
    }

    /// Serves generation 1: `huge` answering "old".
    private func writeFirstGeneration(serverFlags: [String] = []) throws {
        try write("def huge():\n    return 'old'\n", to: "huge-old.py")
        try write(oneServerNetwork(port: port, rpcs: [("huge", "[]", "[str]", "huge-old.py")]), to: "init.yaml")
        try startServer(serverFlags)
        let deploy = try CLIProcess.run(["deploy", "init.yaml"], in: folder)
        XCTAssertEqual(deploy.status, 0, deploy.stdout + deploy.stderr)
        XCTAssertEqual(try call("huge"), "old")
    }

    private func startServer(_ flags: [String] = []) throws {
        server = try CLIProcess.start(["serve", "s1", "--state-dir", "state"] + flags, in: folder)
        XCTAssertTrue(CLIProcess.waitForPort(port), log)
    }

    private func call(_ rpc: String) throws -> String {
        let output = try CLIProcess.run(["call", "svc", rpc, "--as", "c1", "--config", "init.yaml"], in: folder)
        XCTAssertEqual(output.status, 0, output.stdout + output.stderr)
        return output.stdout.trimmingCharacters(in: .whitespacesAndNewlines)
    }

    private func write(_ text: String, to name: String) throws {
        try text.write(to: folder.appendingPathComponent(name), atomically: true, encoding: .utf8)
    }

    /// The last column of the deploy report's row for s1.
    private func roundTrips(in output: String) -> Int? {
        output.split(separator: "\n").last { $0.hasPrefix("s1 ") }.flatMap { Int($0.split(separator: " ").last ?? "") }
    }
}
