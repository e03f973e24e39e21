import Foundation
import PyRPCWire
import XCTest

#if canImport(Glibc)
import Glibc
#endif

/// `GET /metrics` on the operations port of a real `pyrpc serve --processes 2`: exact counts
/// of every outcome summed over both workers, kept when one is SIGKILLed; duration buckets
/// that match the calls; no label for a name nobody declared; worker restarts by reason;
/// deploys; and `promtool check metrics` when Prometheus's tool is installed.
final class MetricsTests: ServerProcessTestCase {
    var operationsPort = 0

    override func setUp() async throws {
        try await super.setUp()
        operationsPort = CLIProcess.freePort()
        try writeFiles([
            "init.yaml": """
                network:
                  servers:
                    - s1: {ip: 127.0.0.1, port: \(port), metrics: \(operationsPort)}
                  clients:
                    - c1: {ip: 127.0.0.1}
                    - c2: {ip: 127.0.0.2}
                service:
                  - svc: {providers: [s1], tenants: [c1], rpcs: [add, boom, nap]}
                rpc:
                  - add: {args: [int, int], returns: [int], src: m.py}
                  - boom: {args: [], returns: [int], src: m.py}
                  - nap: {args: [float], returns: [float], src: m.py}

                """,
            "m.py": "import time\n\ndef add(a, b):\n    return a + b\n\ndef boom():\n    raise ValueError('boom')\n\ndef nap(s):\n    time.sleep(s)\n    return s\n",
        ], in: folder)
    }

    private func serve(_ extra: [String] = []) throws {
        server = try CLIProcess.start(["serve", "s1", "--state-dir", "state", "--processes", "2"] + extra, in: folder)
        XCTAssertTrue(wait(60) { occurrences(of: " ready (generation") >= 2 }, log)
        XCTAssertEqual(try CLIProcess.run(["deploy"], in: folder).status, 0, log)
    }

    private func scrape() throws -> PrometheusText {
        let answer = try HTTPGet.fetch(port: operationsPort, path: "/metrics")
        XCTAssertEqual(answer.status, 200)
        XCTAssertTrue(answer.head.contains("Content-Type: text/plain; version=0.0.4"), answer.head)
        return PrometheusText(answer.body)
    }

    private func request(_ rpc: String, _ arguments: [JSONValue], types: [String], returns: [String], service: String = "svc",
                         client: String? = "c1", timeout: Double? = nil) -> String {
        requestLine(service: service, rpc: rpc, arguments: arguments, types: types, returns: returns, client: client, timeout: timeout)
    }

    /// Sends `lines` on a connection of its own and reads one answer per line: the outcome
    /// labels of the answers, in order.
    private func send(_ lines: [String]) throws -> [String] {
        let socket = try RawSocket(host: "127.0.0.1", port: port)
        defer { socket.close() }
        try socket.send(lines.map { $0 + "\n" }.joined())
        return try lines.map { _ in Self.outcome(of: try JSONParser.parse(socket.readLine())) }
    }

    private static func outcome(of answer: JSONValue) -> String {
        guard let type = answer.exceptionType else { return "ok" }
        return type.lowercased().replacingOccurrences(of: " ", with: "_")
    }

    func testExactCountsOfEveryOutcomeSummedOverWorkersAndKeptWhenOneIsKilled() throws {
        try serve(["--workers", "1", "--max-pending", "1"])
        var expected: [String: Int] = [:]  // series → count
        func tally(_ outcomes: [String], _ labels: String) {
            let prefix = labels.isEmpty ? "" : labels + ","
            for outcome in outcomes { expected["pyrpc_calls_total{\(prefix)outcome=\"\(outcome)\"}", default: 0] += 1 }
        }
        let add = request("add", [2, 3], types: ["int", "int"], returns: ["int"])
        // Several connections, so that both workers answer some.
        for _ in 0..<6 { tally(try send([add, add]), #"service="svc",rpc="add""#) }
        tally(try send([request("boom", [], types: [], returns: ["int"])]), #"service="svc",rpc="boom""#)
        tally(try send([request("add", [1, "x"], types: ["int", "str"], returns: ["int"])]), #"service="svc",rpc="add""#)
        tally(try send([request("add", [1, 2], types: ["int", "int"], returns: ["int"], client: "ghost")]), #"service="svc",rpc="add""#)
        tally(try send([request("add", [1, 2], types: ["int", "int"], returns: ["int"], client: "c2")]), #"service="svc",rpc="add""#)
        tally(try send([request("nap", [2.0], types: ["float"], returns: ["float"], timeout: 0.3)]), #"service="svc",rpc="nap""#)
        // One Python thread and one place in the queue: of four naps sent at once, two at most
        // are taken; the others are Server Busy.
        let naps = try send(Array(repeating: request("nap", [1.0], types: ["float"], returns: ["float"]), count: 4))
        XCTAssertGreaterThanOrEqual(naps.filter { $0 == "server_busy" }.count, 2, "\(naps)")
        tally(naps, #"service="svc",rpc="nap""#)
        tally(try send([request("nope", [], types: [], returns: ["int"])]), #"service="svc""#)
        tally(try send([request("nope", [], types: [], returns: ["int"], service: "elsewhere")]), "")
        tally(try send(["{not json", #"{"header":"RPC-REQ","value":{"service":"svc"}}"#]), "")
        for outcome in ["ok", "execution_exception", "timeout", "invalid_arguments", "client_not_registered", "rpc_not_found",
                        "service_not_found", "server_busy", "bad_request"] {
            XCTAssertTrue(expected.keys.contains { $0.hasSuffix("outcome=\"\(outcome)\"}") }, "no \(outcome) in the mix: \(expected)")
        }
        let expectedSeries = expected

        var metrics = try scrape()
        for (series, count) in expectedSeries { XCTAssertEqual(metrics.value(series), count, "\(series)\n\(metrics.text)") }
        let answered = expectedSeries.values.reduce(0, +)
        let counted = metrics.samples.filter { $0.key.hasPrefix("pyrpc_calls_total") }.values.reduce(0, +)
        XCTAssertEqual(Int(counted), answered, metrics.text)
        // Names nobody declared are counted without labels: no client can add series.
        XCTAssertFalse(metrics.text.contains("nope") || metrics.text.contains("elsewhere") || metrics.text.contains("ghost"), metrics.text)
        XCTAssertEqual(metrics.value(#"pyrpc_workers{state="serving"}"#), 2)
        XCTAssertGreaterThanOrEqual(metrics.value("pyrpc_connections_accepted_total"), 15)
        // The nap that timed out still sleeps in Python until time.sleep returns.
        XCTAssertTrue(wait(10) { (try? scrape().value("pyrpc_calls_pending")) == 0 }, "calls still pending")
        XCTAssertEqual(metrics.value(#"pyrpc_deploys_total{result="applied"}"#), 1)
        XCTAssertEqual(metrics.value("pyrpc_generation"), 1)
        XCTAssertGreaterThan(metrics.value("process_resident_memory_bytes"), 3 << 20)

        // SIGKILL a worker that answered calls: nothing it counted is lost.
        let workers = childProcesses(of: server!.processIdentifier)
        XCTAssertEqual(workers.count, 2)
        kill(workers[0], SIGKILL)
        XCTAssertTrue(wait(30) { occurrences(of: " ready (generation") >= 3 }, log)
        metrics = try scrape()
        for (series, count) in expectedSeries { XCTAssertEqual(metrics.value(series), count, "after the kill: \(series)\n\(metrics.text)") }
        XCTAssertEqual(metrics.value(#"pyrpc_worker_restarts_total{reason="crash"}"#), 1, metrics.text)
        // And what the new worker counts adds to it.
        for _ in 0..<4 { _ = try send([add]) }
        metrics = try scrape()
        XCTAssertEqual(metrics.value(#"pyrpc_calls_total{service="svc",rpc="add",outcome="ok"}"#), expectedSeries[#"pyrpc_calls_total{service="svc",rpc="add",outcome="ok"}"#]! + 4)
        try checkWithPromtool(metrics.text)
    }

    func testDurationBucketsMatchTheCalls() throws {
        try serve()
        let nap = request("nap", [0.15], types: ["float"], returns: ["float"])
        for _ in 0..<3 { XCTAssertEqual(try send([nap]), ["ok"]) }
        let metrics = try scrape()
        let labels = #"service="svc",rpc="nap""#
        XCTAssertEqual(metrics.value("pyrpc_call_duration_seconds_count{\(labels)}"), 3, metrics.text)
        XCTAssertEqual(metrics.value("pyrpc_call_duration_seconds_bucket{\(labels),le=\"0.1\"}"), 0, metrics.text)
        XCTAssertEqual(metrics.value("pyrpc_call_duration_seconds_bucket{\(labels),le=\"0.25\"}"), 3, metrics.text)
        XCTAssertEqual(metrics.value("pyrpc_call_duration_seconds_bucket{\(labels),le=\"+Inf\"}"), 3, metrics.text)
        let sum = metrics["pyrpc_call_duration_seconds_sum{\(labels)}"] ?? 0
        XCTAssertTrue(sum >= 0.45 && sum < 0.75, "sum \(sum)\n\(metrics.text)")
        // A second scrape adds nothing that did not happen.
        let again = try scrape()
        XCTAssertEqual(again["pyrpc_call_duration_seconds_sum{\(labels)}"], sum)
        XCTAssertEqual(again.value("pyrpc_call_duration_seconds_count{\(labels)}"), 3)
        // Every declared rpc is there from the start, at 0.
        XCTAssertEqual(metrics[#"pyrpc_calls_total{service="svc",rpc="boom",outcome="ok"}"#], 0, metrics.text)
    }

    func testWorkerRestartsByReasonAndDeploysByResult() throws {
        try serve(["--max-requests", "5"])
        let add = request("add", [1, 1], types: ["int", "int"], returns: ["int"])
        // Up to 10% over --max-requests, on either worker: 30 calls recycle at least one.
        for _ in 0..<30 { XCTAssertEqual(try send([add]), ["ok"]) }
        XCTAssertTrue(wait(30) { (try? scrape().value(#"pyrpc_worker_restarts_total{reason="max_requests"}"#)) ?? 0 >= 1 }, log)
        let recycled = try scrape().value(#"pyrpc_worker_restarts_total{reason="max_requests"}"#)
        kill(server!.processIdentifier, SIGHUP)
        XCTAssertTrue(wait(60) { (try? scrape().value(#"pyrpc_worker_restarts_total{reason="reload"}"#)) ?? 0 == 2 }, log)
        var metrics = try scrape()
        XCTAssertEqual(metrics.value(#"pyrpc_worker_restarts_total{reason="crash"}"#), 0, metrics.text)
        XCTAssertGreaterThanOrEqual(metrics.value(#"pyrpc_worker_restarts_total{reason="max_requests"}"#), recycled)

        // The same deploy again changes nothing; a script that does not compile is rejected.
        XCTAssertEqual(try CLIProcess.run(["deploy"], in: folder).status, 0, log)
        try "def add(a, b:\n".write(to: folder.appendingPathComponent("m.py"), atomically: true, encoding: .utf8)
        XCTAssertNotEqual(try CLIProcess.run(["deploy"], in: folder).status, 0)
        metrics = try scrape()
        XCTAssertEqual(metrics.value(#"pyrpc_deploys_total{result="applied"}"#), 1, metrics.text)
        XCTAssertEqual(metrics.value(#"pyrpc_deploys_total{result="unchanged"}"#), 1, metrics.text)
        XCTAssertEqual(metrics.value(#"pyrpc_deploys_total{result="rejected"}"#), 1, metrics.text)
        let deployedAt = metrics["pyrpc_last_deploy_timestamp_seconds"] ?? 0
        XCTAssertLessThan(abs(deployedAt - Date().timeIntervalSince1970), 120, metrics.text)
        try checkWithPromtool(metrics.text)
    }

    func testAWorkerStuckPastItsGraceIsAHarakiriRestart() throws {
        try serve(["--harakiri-grace", "0.2"])
        let stuck = try send([request("nap", [3.0], types: ["float"], returns: ["float"], timeout: 0.2)])
        XCTAssertEqual(stuck, ["timeout"])
        XCTAssertTrue(wait(20) { (try? scrape().value(#"pyrpc_worker_restarts_total{reason="harakiri"}"#)) == 1 }, log)
        XCTAssertEqual(try scrape().value(#"pyrpc_worker_restarts_total{reason="crash"}"#), 0)
    }

    func testWorkersOverMaxRSSAreMaxRSSRestarts() throws {
        // 1 MiB: every worker is over it, and is replaced for it again and again.
        server = try CLIProcess.start(["serve", "s1", "--state-dir", "state", "--processes", "2", "--max-rss", "1"], in: folder)
        XCTAssertTrue(wait(30) { (try? scrape().value(#"pyrpc_worker_restarts_total{reason="max_rss"}"#)) ?? 0 >= 2 }, log)
        XCTAssertEqual(try scrape().value(#"pyrpc_worker_restarts_total{reason="crash"}"#), 0)
    }

    /// `promtool check metrics` (Debian's `prometheus` package; CI installs it) finds no problem.
    private func checkWithPromtool(_ text: String) throws {
        let promtool = ["/usr/bin/promtool", "/usr/local/bin/promtool"].first { FileManager.default.isExecutableFile(atPath: $0) }
        guard let promtool else {
            print("promtool is not installed (apt-get install prometheus): the exposition was not checked by it")
            return
        }
        let process = Process()
        process.executableURL = URL(fileURLWithPath: promtool)
        process.arguments = ["check", "metrics"]
        let input = Pipe()
        let output = Pipe()
        process.standardInput = input
        process.standardOutput = output
        process.standardError = output
        try process.run()
        input.fileHandleForWriting.write(Data(text.utf8))
        try input.fileHandleForWriting.close()
        let said = String(decoding: output.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        process.waitUntilExit()
        XCTAssertEqual(process.terminationStatus, 0, said)
        XCTAssertEqual(said, "", "promtool found problems:\n\(said)")
    }
}
