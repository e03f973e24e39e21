import Foundation
import PyRPCWire
import XCTest

#if canImport(Glibc)
import Glibc
#endif

/// A worker that leaves while its server goes on — recycled by `--max-requests`, replaced on
/// SIGHUP, or after a stuck call (harakiri) — hands its client connections to the workers
/// that stay: clients pipelining through any number of such departures see every answer, in
/// order, on the connection they opened. Real processes, signals and sockets.
final class HandOverTests: ServerProcessTestCase {



    /// `pyrpc serve` with `who` (and `stuck`, which ignores its timeout) deployed.
    @discardableResult
    private func serve(processes: Int, _ extra: [String] = []) throws -> Process {
        try writeFiles([
            "who.py": PipeliningClient.whoScript,
            "stuck.py": "import time\n\ndef stuck():\n    while True:\n        try:\n            time.sleep(600)\n        except BaseException:\n            pass\n",
            "init.yaml": oneServerNetwork(port: port, rpcs: [("who", "[int]", "[int]", "who.py"), ("stuck", "[]", "[int]", "stuck.py")], timeout: 1),
        ], in: folder)
        let process = try CLIProcess.start(["serve", "s1", "--state-dir", "state", "--processes", "\(processes)"] + extra, in: folder)
        server = process
        XCTAssertTrue(wait(30) { occurrences(of: " ready (generation") >= processes }, "workers did not start: \(log)")
        XCTAssertEqual(try CLIProcess.run(["deploy"], in: folder).status, 0, log)
        return process
    }

    private var supervisorPID: Int32 { server!.processIdentifier }

    /// The worker processes of the supervisor.
    private func workers() -> [Int32] { childProcesses(of: supervisorPID) }

    private func descriptors(of pid: Int32) -> [String] {
        let folder = "/proc/\(pid)/fd"
        return ((try? FileManager.default.contentsOfDirectory(atPath: folder)) ?? []).compactMap {
            try? FileManager.default.destinationOfSymbolicLink(atPath: "\(folder)/\($0)")
        }
    }

    func testRecyclingUnderPipelinedLoadLosesNoCall() throws {
        try serve(processes: 2, ["--max-requests", "300"])
        // The clients call until workers recycled and their successors answered: on a loaded
        // machine a fixed number of calls can end before a successor is ready.
        let clients = try (0..<4).map { _ in try PipeliningClient(port: port) }
        let pids = { clients.reduce(into: Set<Int>()) { $0.formUnion($1.pids) } }
        XCTAssertTrue(wait(60) { pids().count >= 3 && occurrences(of: "recycled after") >= 2 }, "workers that answered: \(pids()); \(log)")
        for (index, client) in clients.enumerated() {
            XCTAssertNil(client.stop(), "client \(index): \(log)")
            XCTAssertGreaterThan(client.count, 0, "client \(index)")
        }
        XCTAssertFalse(log.contains("not handed over"), log)
    }

    func testSIGHUPUnderPipelinedLoadLosesNoCall() throws {
        try serve(processes: 2)
        let clients = try (0..<4).map { _ in try PipeliningClient(port: port) }
        for round in 1...2 {
            let before = clients.map(\.count)
            kill(supervisorPID, SIGHUP)
            XCTAssertTrue(wait(30) { occurrences(of: "(replaced (SIGHUP))") >= 2 * round }, "round \(round): \(log)")
            // Every client goes on, on its same connection.
            XCTAssertTrue(wait(30) { zip(clients, before).allSatisfy { $0.count > $1 + 50 } || clients.contains { $0.failed != nil } })
        }
        for (index, client) in clients.enumerated() {
            XCTAssertNil(client.stop(), "client \(index): \(log)")
        }
        let pids = clients.reduce(into: Set<Int>()) { $0.formUnion($1.pids) }
        XCTAssertGreaterThanOrEqual(pids.count, 4, "two SIGHUPs, two workers each: \(pids)")
    }

    /// A stuck call makes its worker leave (harakiri); the other connections of that worker
    /// move to its successor, pipelining on.
    func testHarakiriHandsTheOtherConnectionsOver() throws {
        try serve(processes: 1, ["--harakiri-grace", "1"])
        let client = try PipeliningClient(port: port)
        XCTAssertTrue(wait(30) { client.count > 100 })
        let first = client.pids
        let stuck = try RawSocket(host: "127.0.0.1", port: port, timeout: 20)
        defer { stuck.close() }
        try stuck.send(requestLine(service: "svc", rpc: "stuck", arguments: [], types: [], returns: ["int"]) + "\n")
        XCTAssertEqual(try JSONParser.parse(stuck.readLine())["value"]?["exception-type"]?.stringValue, "Timeout")
        XCTAssertTrue(wait(30) { occurrences(of: "(harakiri: ") >= 1 && !client.pids.subtracting(first).isEmpty || client.failed != nil }, log)
        XCTAssertNil(client.stop(), log)
        XCTAssertEqual(client.pids.subtracting(first).count, 1, "the successor answered on the same connection")
    }

    /// What a worker read but did not frame goes along: half a request, and the rest of a line
    /// over the message limit that it was skipping.
    func testPartialInputFollowsItsConnection() throws {
        try serve(processes: 1, ["--max-message-bytes", "4096"])
        let half = try RawSocket(host: "127.0.0.1", port: port, timeout: 20)
        let oversize = try RawSocket(host: "127.0.0.1", port: port, timeout: 20)
        defer { half.close(); oversize.close() }
        let request = Array((requestLine(service: "svc", rpc: "who", arguments: [.int(7)], types: ["int"], returns: ["int"], id: .int(7)) + "\n").utf8)
        try half.send(Array(request[..<30]))
        // A string that never ends (a first byte no JSON text begins with would close the connection).
        try oversize.send([UInt8(ascii: "\"")] + Array(repeating: UInt8(ascii: "x"), count: 10_000))
        XCTAssertEqual(try JSONParser.parse(oversize.readLine())["value"]?["exception-type"]?.stringValue, "Bad Request")
        let old = workers()
        kill(supervisorPID, SIGHUP)
        XCTAssertTrue(wait(30) { occurrences(of: "(replaced (SIGHUP))") >= 1 }, log)
        try half.send(Array(request[30...]))
        let answer = try JSONParser.parse(half.readLine())
        guard case .int(let value)? = answer.returnValues?.first else { return XCTFail("\(answer)") }
        XCTAssertEqual(value / 10_000_000, 7)
        XCTAssertFalse(old.contains(Int32(value % 10_000_000)), "answered by the old worker")
        // The rest of the oversize line is dropped; the next request is answered, nothing between.
        try oversize.send(Array(repeating: UInt8(ascii: "x"), count: 100) + [UInt8(ascii: "\n")] + request)
        XCTAssertEqual(try JSONParser.parse(oversize.readLine())["value"]?["id"], .int(7))
    }

    /// 200 hand-overs leave no descriptor behind: the supervisor holds what it held before,
    /// and the last worker holds its connections and its own descriptors, as the first did.
    func testTwoHundredHandOversLeakNoDescriptor() throws {
        try serve(processes: 1)
        let first = workers()
        XCTAssertEqual(first.count, 1)
        let (supervisorBefore, workerBefore) = (descriptors(of: supervisorPID).count, descriptors(of: first[0]).count)
        let clients = try (0..<10).map { _ in try PipeliningClient(port: port, window: 2) }
        XCTAssertTrue(wait(30) { clients.allSatisfy { $0.count > 10 } })
        for round in 1...20 {
            kill(supervisorPID, SIGHUP)
            XCTAssertTrue(wait(30) { occurrences(of: "(replaced (SIGHUP))") >= round }, "round \(round): \(log)")
            if let failed = clients.compactMap(\.failed).first { return XCTFail("round \(round): \(failed)\n\(log)") }
        }
        // Every client still answered by the last worker, on its first connection.
        let last = workers()
        XCTAssertEqual(last.count, 1)
        let counts = clients.map(\.count)
        XCTAssertTrue(wait(30) { zip(clients, counts).allSatisfy { $0.count > $1 + 10 } }, log)
        XCTAssertEqual(descriptors(of: supervisorPID).count, supervisorBefore, "the supervisor's descriptors: \(descriptors(of: supervisorPID))")
        XCTAssertEqual(descriptors(of: last[0]).count, workerBefore + clients.count, "the last worker's: \(descriptors(of: last[0]))")
        for client in clients { XCTAssertNil(client.stop(), log) }
        XCTAssertEqual(clients.reduce(into: Set<Int>()) { $0.formUnion($1.pids) }.count, 21)
    }

    /// Randomized: clients send their requests cut at random places while workers leave
    /// (SIGHUP and recycling together), so hand-overs catch connections holding part of a
    /// request, several requests, or answers not yet written: every request is answered
    /// exactly once, in order. The seed is printed; `PYRPC_TEST_SEED` replays one.
    func testRandomlySplitRequestsThroughHandOvers() throws {
        let seed = ProcessInfo.processInfo.environment["PYRPC_TEST_SEED"].flatMap { UInt64($0) } ?? UInt64.random(in: 1...UInt64.max / 2)
        print("testRandomlySplitRequestsThroughHandOvers seed \(seed) (PYRPC_TEST_SEED=\(seed) replays it)")
        try serve(processes: 2, ["--max-requests", "400"])
        let clients = try (0..<6).map { index in try PipeliningClient(port: port, window: 1 + index * 3, splitting: seed &+ UInt64(index)) }
        for round in 1...3 {
            // Each SIGHUP replaces both workers, or they were recycled meanwhile: two leave.
            let left = occurrences(of: "exited with status 0")
            kill(supervisorPID, SIGHUP)
            XCTAssertTrue(wait(30) { occurrences(of: "exited with status 0") >= left + 2 || clients.contains { $0.failed != nil } }, "round \(round): \(log)")
        }
        XCTAssertTrue(wait(30) { occurrences(of: "(recycled after") >= 1 || clients.contains { $0.failed != nil } }, log)
        for (index, client) in clients.enumerated() {
            XCTAssertNil(client.stop(), "client \(index), seed \(seed): \(log)")
        }
        XCTAssertGreaterThan(clients.reduce(0) { $0 + $1.count }, 500)
    }
}
