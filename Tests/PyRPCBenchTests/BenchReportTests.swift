import XCTest

@testable import pyrpc_bench

/// The verdicts the benchmark prints for issue targets, from rows with known figures.
final class BenchReportTests: XCTestCase {
    private let add = "add persistent c=8"

    private func row(_ workload: String, _ server: String, microseconds: Double, callsPerSecond: Double = 10_000, failures: Int = 0) -> BenchRow {
        BenchRow(workload: workload, server: server, calls: 1000, failures: failures, callsPerSecond: callsPerSecond, p50: 1e-4, p99: 2e-4,
                 cpuPerCall: microseconds * 1e-6, userPerCall: microseconds * 0.3e-6, rss: 1 << 24)
    }

    /// The report's line for the target whose label starts with `label`.
    private func target(_ report: BenchReport, _ label: String) -> String? {
        report.markdown(machine: "test").split(separator: "\n").map(String.init).first { $0.hasPrefix("- \(label):") }
    }

    func testTurnRatiosAreTheMedianAndRangeOfTheRatiosOfSharedTurns() throws {
        var report = BenchReport()
        let (first, second) = (BenchReport.Key(add, "pyrpc"), BenchReport.Key(add, "C ceiling"))
        report.turns[first] = [11, 9, 12]
        report.turns[second] = [10, 10, 10]
        let odd = try XCTUnwrap(report.turnRatios(first, second))
        XCTAssertEqual(odd.median, 1.1, accuracy: 1e-12)
        XCTAssertEqual(odd.lowest, 0.9, accuracy: 1e-12)
        XCTAssertEqual(odd.highest, 1.2, accuracy: 1e-12)
        XCTAssertEqual(odd.summary, "1.100× (0.900–1.200, 3 turns)")

        // A fourth turn of `first` without its partner is left out; with it, the median of
        // an even count is the mean of the middle two.
        report.turns[first] = [11, 9, 12, 10]
        XCTAssertEqual(report.turnRatios(first, second)?.count, 3)
        report.turns[second] = [10, 10, 10, 10]
        XCTAssertEqual(try XCTUnwrap(report.turnRatios(first, second)).median, 1.05, accuracy: 1e-12)

        XCTAssertNil(report.turnRatios(first, BenchReport.Key(add, "nobody")))
    }

    func testACPUTargetIsJudgedOnTheTotalsAndShowsTheTurns() throws {
        var report = BenchReport()
        report.rows = [row(add, "pyrpc", microseconds: 11), row(add, "C ceiling", microseconds: 10)]
        // Turn by turn pyrpc looks worse than its total: the verdict stays on the total.
        report.turns[BenchReport.Key(add, "pyrpc")] = [13, 13, 7]
        report.turns[BenchReport.Key(add, "C ceiling")] = [10, 10, 10]
        XCTAssertEqual(target(report, "add persistent c=8, CPU/call ≤ 1.2× ceiling"),
                       "- add persistent c=8, CPU/call ≤ 1.2× ceiling: met (1.10×: 11.0 µs vs 10.0 µs; per turn 1.300× (0.700–1.300, 3 turns))")

        report.rows[0].cpuPerCall = 12.01e-6
        // Within rounding of the bound: more digits, so that the line says why.
        XCTAssertEqual(target(report, "add persistent c=8, CPU/call ≤ 1.2× ceiling"),
                       "- add persistent c=8, CPU/call ≤ 1.2× ceiling: **not met** (1.2010×: 12.010 µs vs 10.000 µs; per turn 1.300× (0.700–1.300, 3 turns))")
    }

    func testThroughputAgainstTheCeiling() {
        var report = BenchReport()
        report.rows = [row(add, "pyrpc", microseconds: 11, callsPerSecond: 8_900), row(add, "C ceiling", microseconds: 10, callsPerSecond: 10_000)]
        XCTAssertEqual(target(report, "add persistent c=8, throughput ≥ 0.9× ceiling"),
                       "- add persistent c=8, throughput ≥ 0.9× ceiling: **not met** (0.89×: 8900 vs 10000 calls/s)")
        report.rows[0].callsPerSecond = 9_000
        XCTAssertEqual(target(report, "add persistent c=8, throughput ≥ 0.9× ceiling"),
                       "- add persistent c=8, throughput ≥ 0.9× ceiling: met (0.90×: 9000 vs 10000 calls/s)")
    }

    /// Figures bought with failed calls (exceptions, wrong answers, lost connections) meet
    /// no target, however good they look.
    func testATargetOverARowWithFailedCallsIsNotMet() {
        var report = BenchReport()
        report.rows = [row(add, "pyrpc", microseconds: 10), row(BenchSuite.addMessagePack, "pyrpc", microseconds: 5, failures: 3)]
        XCTAssertEqual(target(report, "add persistent c=8 over MessagePack, CPU/call ≤ over JSON"),
                       "- add persistent c=8 over MessagePack, CPU/call ≤ over JSON: **not met** (3 failed calls in pyrpc's row; 0.50×: 5.0 µs vs 10.0 µs)")
        report.rows[1].failures = 0
        XCTAssertEqual(target(report, "add persistent c=8 over MessagePack, CPU/call ≤ over JSON"),
                       "- add persistent c=8 over MessagePack, CPU/call ≤ over JSON: met (0.50×: 5.0 µs vs 10.0 µs)")
    }

    func testAFailingRowSaysWhatItWasAnswered() {
        var failing = row(add, "pyrpc", microseconds: 10, failures: 2)
        failing.unexpectedAnswer = #"{"header":"RPC-EX","value":{"type":"Unauthorized"}}"#
        XCTAssertTrue(failing.consoleLine.hasSuffix(#"2 failures; first unexpected answer: {"header":"RPC-EX","value":{"type":"Unauthorized"}}"#), failing.consoleLine)
        XCTAssertTrue(row(add, "pyrpc", microseconds: 10).consoleLine.hasSuffix("0 failures"))
    }

    /// There and back: over two rounds every contender takes both ends, and follows a
    /// different neighbour.
    func testTurnsGoThereAndBack() {
        XCTAssertEqual(BenchSuite.turnOrder(round: 0, contenders: 3), [0, 1, 2])
        XCTAssertEqual(BenchSuite.turnOrder(round: 1, contenders: 3), [2, 1, 0])
        XCTAssertEqual(BenchSuite.turnOrder(round: 2, contenders: 3), [0, 1, 2])
        XCTAssertEqual(BenchSuite.turnOrder(round: 5, contenders: 1), [0])
    }
}
