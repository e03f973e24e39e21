import Foundation
import PyRPCWire
import XCTest

#if canImport(Glibc)
import Glibc
#endif

/// SIGKILL a real `pyrpc serve` at several moments of a deploy: after a restart it serves
/// either the whole old state or the whole new one, never a mix.
final class CrashDeployTests: XCTestCase {
    func testKillDuringDeployNeverLeavesAMixedState() throws {
        let folder = try makeTemporaryFolder()
        defer { try? FileManager.default.removeItem(at: folder) }
        let port = CLIProcess.freePort()
        let state = folder.appendingPathComponent("state").path
        let count = 40

        func writeVersion(_ version: String) throws {
            var yaml = """
                network:
                  servers:
                    - s1: {ip: 127.0.0.1, port: \(port)}
                  clients:
                    - c1: {ip: 127.0.0.1}
                service:
                  - svc: {providers: [s1], tenants: [c1]}
                rpc:
                  svc:

                """
            for index in 0..<count {
                let name = "r\(index)"
                // Some bulk so writing the scripts takes a moment.
                let padding = String(repeating: "# \(version) padding line\n", count: 200)
                try "\(padding)def \(name)():\n    return '\(version)'\n".write(
                    to: folder.appendingPathComponent("\(name).py"), atomically: true, encoding: .utf8)
                yaml += "    - \(name): {args: [], returns: [str], src: \(name).py}\n"
            }
            try yaml.write(to: folder.appendingPathComponent("init.yaml"), atomically: true, encoding: .utf8)
        }

        func serve() throws -> Process {
            let process = try CLIProcess.start(["serve", "s1", "--state-dir", state, "--log-level", "error"], in: folder)
            XCTAssertTrue(CLIProcess.waitForPort(port), "serve did not start")
            return process
        }

        /// The versions the restarted server answers with, one per rpc.
        func answers() throws -> Set<String> {
            var seen: Set<String> = []
            let socket = try RawSocket(host: "127.0.0.1", port: port)
            defer { socket.close() }
            for index in 0..<count {
                try socket.send(requestLine(service: "svc", rpc: "r\(index)", arguments: [], types: [], returns: ["str"]) + "\n")
                let answer = try JSONParser.parse(socket.readLine())
                seen.insert(answer.returnValues?.first?.stringValue ?? "error: \(answer.jsonText)")
            }
            return seen
        }

        try writeVersion("old")
        var server = try serve()
        XCTAssertEqual(try CLIProcess.run(["deploy"], in: folder).status, 0)
        XCTAssertEqual(try answers(), ["old"])

        var outcomes: [String: Int] = [:]
        for (round, delay) in [0, 5, 20, 60, 150, 400].enumerated() {
            let next = round % 2 == 0 ? "new\(round)" : "old\(round)"
            try writeVersion(next)
            let previous = try answers()
            let deploy = try CLIProcess.start(["deploy"], in: folder, logName: "deploy\(round)")
            usleep(useconds_t(delay * 1000))
            kill(server.processIdentifier, SIGKILL)
            server.waitUntilExit()
            deploy.waitUntilExit()
            server = try serve()
            let after = try answers()
            XCTAssertEqual(after.count, 1, "mixed state after SIGKILL at \(delay) ms: \(after)")
            XCTAssertTrue(after == previous || after == [next], "unexpected state after SIGKILL at \(delay) ms: \(after)")
            outcomes[after == [next] ? "new" : "old", default: 0] += 1
            // Bring it to the new version for the next round.
            XCTAssertEqual(try CLIProcess.run(["deploy"], in: folder).status, 0)
            XCTAssertEqual(try answers(), [next])
        }
        server.terminate()
        server.waitUntilExit()
        print("SIGKILL during deploy: \(outcomes)")
    }
}
