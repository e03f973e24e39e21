import Foundation
import PyRPCClient
import PyRPCWire
import XCTest

#if canImport(Glibc)
import Glibc
#endif

/// A TLS session cannot move to another process: a worker that leaves (recycled, replaced on
/// SIGHUP) answers what it read, says GOAWAY with the last request it read, and closes;
/// pyrpc's client sends the rest again on a new connection. Under load, through recycling and
/// certificate rotation, no call fails. Real processes, the Swift client library over mTLS.
final class TLSHandOverTests: TLSTestCase {
    override func setUp() async throws {
        try await super.setUp()
        try writeFiles([
            "init.yaml": """
                tls: {ca: ca.pem, cert: admin.pem, key: admin-key.pem}
                network:
                  servers:
                    - s1: {ip: 127.0.0.1, port: \(port), tls: {cert: s1.pem, key: s1-key.pem}}
                  clients:
                    - c1: {ip: 127.0.0.1, tls: {cert: c1.pem, key: c1-key.pem}}
                service:
                  - svc: {providers: [s1], tenants: [c1], rpcs: [who]}
                rpc:
                  - who: {args: [int], returns: [int], src: who.py}
                """,
            "who.py": PipeliningClient.whoScript,
        ], in: folder)
    }

    func testRecyclingAndRotationUnderLoadLoseNoCall() async throws {
        server = try CLIProcess.start(["serve", "s1", "--state-dir", "state", "--processes", "2", "--max-requests", "400"], in: folder)
        XCTAssertTrue(wait(30) { occurrences(of: " ready (generation") >= 2 }, log)
        let deploy = try CLIProcess.run(["deploy"], in: folder)
        XCTAssertEqual(deploy.status, 0, deploy.stdout + deploy.stderr + log)

        let tls = try TLSConfiguration(
            ca: .file(folder.appendingPathComponent("ca.pem").path),
            certificate: .file(folder.appendingPathComponent("c1.pem").path), key: .file(folder.appendingPathComponent("c1-key.pem").path))
        let load = TLSLoad(port: port, tls: tls)
        let running = Task { await load.run(clients: 3, callsInFlightEach: 4) }

        // Workers recycle every ~400 calls; then SIGHUP rotates to a new certificate twice.
        XCTAssertTrue(wait(90) { occurrences(of: "recycled after") >= 3 || load.failure != nil }, log)
        // The files are rewritten in place while workers recycle: a worker started between the
        // certificate and its key still gets a matching pair, the one the supervisor read.
        for round in 1...2 {
            try TestCertificates.issue("s1", subjectAltName: "IP:127.0.0.1", in: folder)
            kill(server!.processIdentifier, SIGHUP)
            XCTAssertTrue(wait(60) { occurrences(of: "read the TLS certificate and key again") >= round || load.failure != nil }, "round \(round): \(log)")
            let before = load.answered
            XCTAssertTrue(wait(30) { load.answered > before + 800 || load.failure != nil })
        }
        XCTAssertFalse(log.contains("cannot load"), log)
        load.stop()
        await running.value
        XCTAssertNil(load.failure, log)
        XCTAssertGreaterThan(load.answered, 1000)
        // The calls went on through several workers, so the connections did move.
        XCTAssertGreaterThanOrEqual(load.workers.count, 4, "\(load.workers)")
    }

    /// What a TLS client that knows no GOAWAY sees (the README says it): after the answers to
    /// what the worker read, one GOAWAY line naming the last request read, then the end.
    func testAPlainTLSClientReadsGoAwayWithTheLastRequestRead() throws {
        server = try CLIProcess.start(["serve", "s1", "--state-dir", "state", "--processes", "1", "--max-requests", "50"], in: folder)
        XCTAssertTrue(wait(30) { occurrences(of: " ready (generation") >= 1 }, log)
        XCTAssertEqual(try CLIProcess.run(["deploy"], in: folder).status, 0, log)
        // Python's ssl pipelines calls on one connection until the worker leaves (about 50
        // calls): it prints how many answers it read and the GOAWAY's value.
        let script = """
            import json, socket, ssl
            context = ssl.create_default_context(cafile="ca.pem")
            context.load_cert_chain("c1.pem", "c1-key.pem")
            with socket.create_connection(("127.0.0.1", \(port)), timeout=30) as raw:
                with context.wrap_socket(raw, server_hostname="127.0.0.1") as tls:
                    answers = tls.makefile("rb")
                    sent = answered = 0
                    while True:
                        while sent - answered < 8:
                            request = {"header": "RPC-REQ", "value": {"service": "svc", "rpc": "who", "arguments": [sent],
                                       "argument-types": ["int"], "return-types": ["int"], "id": sent}}
                            try:
                                tls.sendall((json.dumps(request) + "\\n").encode())
                            except OSError:
                                break
                            sent += 1
                        line = answers.readline()
                        if not line:
                            print("closed without GOAWAY", answered)
                            break
                        message = json.loads(line)
                        if message["header"] == "GOAWAY":
                            print("GOAWAY", message["value"]["last-request"], answered, sent > answered)
                            print("end" if answers.readline() == b"" else "more")
                            break
                        assert message["value"]["id"] == answered, message
                        answered += 1
            """
        try script.write(to: folder.appendingPathComponent("goaway.py"), atomically: true, encoding: .utf8)
        let output = try CLIProcess.run(["python3", "goaway.py"], in: folder, executable: "/usr/bin/env")
        let lines = output.stdout.split(separator: "\n").map { $0.split(separator: " ").map(String.init) }
        XCTAssertEqual(lines.count, 2, output.stdout + output.stderr + log)
        let goAway = try XCTUnwrap(lines.first)
        XCTAssertEqual(goAway.first, "GOAWAY", output.stdout + output.stderr)
        // The last request read is the last answered; some sent after it were never read.
        XCTAssertEqual(goAway.count, 4, output.stdout)
        if goAway.count == 4 {
            XCTAssertEqual(goAway[1], goAway[2], output.stdout)
            XCTAssertGreaterThanOrEqual(Int(goAway[1]) ?? 0, 40, output.stdout)
        }
        XCTAssertEqual(lines.last, ["end"], output.stdout)
    }
}

/// Clients calling `who(n)` over TLS, each with several calls in flight on its connection,
/// checking each answer, until stopped.
final class TLSLoad: @unchecked Sendable {  // state behind `lock`
    private let port: Int
    private let tls: TLSConfiguration
    private let lock = NSLock()
    private var stopped = false
    private var count = 0
    private var pids: Set<Int> = []
    private var firstFailure: String?

    init(port: Int, tls: TLSConfiguration) {
        self.port = port
        self.tls = tls
    }

    var answered: Int { lock.withLock { count } }
    var failure: String? { lock.withLock { firstFailure } }
    var workers: Set<Int> { lock.withLock { pids } }
    func stop() { lock.withLock { stopped = true } }

    func run(clients: Int, callsInFlightEach: Int) async {
        await withTaskGroup(of: Void.self) { group in
            for _ in 0..<clients {
                let client = RPCClient(host: "127.0.0.1", port: port, client: "c1", tls: tls)
                for lane in 0..<callsInFlightEach {
                    group.addTask { await self.call(client, lane: lane) }
                }
            }
        }
    }

    private func call(_ client: RPCClient, lane: Int) async {
        var n = lane
        while !lock.withLock({ stopped || firstFailure != nil }) {
            do {
                let answer: Int = try await client.call("svc", "who", n)
                guard answer / 10_000_000 == n else { throw RPCClientError.protocolViolation("who(\(n)) answered \(answer)") }
                lock.withLock {
                    count += 1
                    pids.insert(answer % 10_000_000)
                }
            } catch {
                lock.withLock { firstFailure = firstFailure ?? "who(\(n)): \(error)" }
            }
            n += 100
        }
    }
}
