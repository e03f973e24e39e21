import Foundation
import PyRPCWire
import XCTest

@testable import pyrpc_bench

/// The load generator and the turns against a real pyrpc server (`pyrpc-bench serve-child`,
/// as the benchmark starts it, with its services deployed): every per-call figure divides by
/// the calls it counts, so it must count right, and only right answers.
final class LoadGeneratorTests: XCTestCase {
    private var suite: BenchSuite!
    private var server: ServerUnderTest!

    override func setUp() async throws {
        let bench = try XCTUnwrap(Self.benchBinary(), "no pyrpc-bench built next to the tests")
        suite = try BenchSuite(options: try Bench.parse(["--skip-comparisons"]))
        server = try await suite.startPyRPC(label: "test", binary: bench)
    }

    override func tearDown() {
        suite?.cleanUp()
    }

    func testEveryCallOnPersistentConnectionsIsCountedOnce() {
        let result = LoadGenerator.run(port: server.port, request: suite.addRequest, mode: .persistent, concurrency: 4, calls: 400)
        XCTAssertEqual(result.calls, 400)
        XCTAssertEqual(result.failures, 0, result.firstUnexpected)
        XCTAssertEqual(result.latencies.count, 400)
        XCTAssertGreaterThan(result.callsPerSecond, 0)
    }

    func testEveryOneShotCallIsCountedOnce() {
        let result = LoadGenerator.run(port: server.port, request: suite.addRequest, mode: .oneShot, concurrency: 3, calls: 60)
        XCTAssertEqual(result.calls, 60)
        XCTAssertEqual(result.failures, 0, result.firstUnexpected)
    }

    func testCallsOverMessagePackAreCountedOnce() {
        let result = LoadGenerator.run(port: server.port, request: BenchSuite.messagePack(suite.addRequest), mode: .persistent, concurrency: 2, calls: 200)
        XCTAssertEqual(result.calls, 200)
        XCTAssertEqual(result.failures, 0, result.firstUnexpected)
    }

    /// A server answering every call with an exception must not look fast: none counts.
    func testExceptionsCountAsFailedCalls() {
        let wrongTypes = BenchSuite.request("add", [.string("two"), 3], ["str", "int"], ["int"])
        let result = LoadGenerator.run(port: server.port, request: wrongTypes, mode: .persistent, concurrency: 2, calls: 50)
        XCTAssertEqual(result.calls, 0)
        XCTAssertEqual(result.failures, 50)
        XCTAssertTrue(result.firstUnexpected.contains("RPC-EX"), result.firstUnexpected)
    }

    func testAnAnswerUnlikeTheFirstIsAFailure() {
        var expected: [UInt8]?
        let five = Array(#"{"header":"RPC-RES","value":{"return-values":[5]}}"#.utf8)
        let six = Array(#"{"header":"RPC-RES","value":{"return-values":[6]}}"#.utf8)
        let exception = Array(#"{"header":"RPC-EX","value":{"type":"Timeout"}}"#.utf8)
        XCTAssertFalse(LoadGenerator.isTheAnswer(exception, expected: &expected))
        XCTAssertNil(expected, "an exception must not become the run's answer")
        XCTAssertTrue(LoadGenerator.isTheAnswer(five, expected: &expected))
        XCTAssertTrue(LoadGenerator.isTheAnswer(five, expected: &expected))
        XCTAssertFalse(LoadGenerator.isTheAnswer(six, expected: &expected))
        XCTAssertFalse(LoadGenerator.isTheAnswer(exception, expected: &expected))
    }

    /// Turns add up to the row: its calls are every turn's, and each turn leaves its own
    /// CPU per call for the per-turn ratios.
    func testTurnsAddUpToTheirRow() throws {
        suite.measureInTurns(BenchSuite.Contender.all("add test", [server]), request: suite.addRequest, mode: .persistent, concurrency: 2, calls: 300, rounds: 3)
        let row = try XCTUnwrap(suite.report.row("add test", "pyrpc"))
        XCTAssertEqual(row.calls, 300)
        XCTAssertEqual(row.failures, 0, row.unexpectedAnswer)
        let turns = try XCTUnwrap(suite.report.turns[BenchReport.Key("add test", "pyrpc")])
        XCTAssertEqual(turns.count, 3)
        XCTAssertTrue(turns.allSatisfy { $0 > 0 }, "\(turns)")
        // The row's CPU per call is the calls-weighted mean of its turns' (100 calls each).
        XCTAssertEqual(row.cpuPerCall, turns.reduce(0, +) / 3, accuracy: row.cpuPerCall * 1e-9)
        // By thread: the I/O loops, which read, run and answer a quick call, did the most.
        let busiest = try XCTUnwrap(row.threads.max { $0.value.cpuNanoseconds < $1.value.cpuNanoseconds })
        XCTAssertEqual(busiest.key, "io-s1-#", "\(row.threads)")
    }

    /// `pyrpc-bench` next to the `pyrpc` the tests run (`PYRPC_BINARY`: the release build), else
    /// in the build folder that holds the test bundle.
    static func benchBinary() -> String? {
        if let chosen = ProcessInfo.processInfo.environment["PYRPC_BINARY"], !chosen.isEmpty {
            let beside = URL(fileURLWithPath: chosen).deletingLastPathComponent().appendingPathComponent("pyrpc-bench").path
            return FileManager.default.isExecutableFile(atPath: beside) ? beside : nil
        }
        let testBinary = (try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe")) ?? CommandLine.arguments[0]
        var folder = URL(fileURLWithPath: testBinary).deletingLastPathComponent()
        while folder.path != "/" {
            let candidate = folder.appendingPathComponent("pyrpc-bench").path
            if FileManager.default.isExecutableFile(atPath: candidate) { return candidate }
            folder.deleteLastPathComponent()
        }
        return nil
    }
}
