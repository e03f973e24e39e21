import CLinux
import Foundation
import XCTest

@testable import pyrpc_bench

#if canImport(Glibc)
import Glibc
#endif

/// The benchmark's table of CPU by kind of thread.
final class ThreadUseTests: XCTestCase {
    func testThreadsOfOneKindShareANameButTheirNumber() {
        XCTAssertEqual(ThreadUse.kind("io-s1-0"), "io-s1-#")
        XCTAssertEqual(ThreadUse.kind("py-s1-17"), "py-s1-#")
        XCTAssertEqual(ThreadUse.kind("watch-s1"), "watch-s1")
        XCTAssertEqual(ThreadUse.kind("reaper"), "reaper")
        XCTAssertEqual(ThreadUse.kind("odd-"), "odd-")
    }

    func testUseIsWhatEachThreadAddedByKind() {
        let before: [Int32: ThreadClock] = [
            10: ThreadClock(name: "io-s1-0", cpuNanoseconds: 1_000, switches: 5),
            11: ThreadClock(name: "io-s1-1", cpuNanoseconds: 2_000, switches: 5),
            12: ThreadClock(name: "watch-s1", cpuNanoseconds: 300, switches: 2),
            // Ended before the second reading: missing from it, and so from the use.
            13: ThreadClock(name: "py-s1-0", cpuNanoseconds: 50, switches: 1),
        ]
        let after: [Int32: ThreadClock] = [
            10: ThreadClock(name: "io-s1-0", cpuNanoseconds: 4_000, switches: 9),
            11: ThreadClock(name: "io-s1-1", cpuNanoseconds: 2_500, switches: 6),
            12: ThreadClock(name: "watch-s1", cpuNanoseconds: 300, switches: 2),
            // Started meanwhile: counts from zero.
            14: ThreadClock(name: "py-s1-1", cpuNanoseconds: 700, switches: 3),
        ]
        let uses = ThreadUse.between(before, after)
        XCTAssertEqual(uses["io-s1-#"], ThreadUse(threads: 2, cpuNanoseconds: 3_500, switches: 5))
        XCTAssertEqual(uses["py-s1-#"], ThreadUse(threads: 1, cpuNanoseconds: 700, switches: 3))
        XCTAssertNil(uses["watch-s1"], "a thread that did nothing is left out")
        XCTAssertEqual(uses.count, 2)
    }

    /// Read from /proc for this very process: a thread named `probe-burn-3` that spins for
    /// 30 ms of CPU shows under its kind with at least that much.
    func testClocksAreReadFromProc() throws {
        let before = ThreadClock.all(getpid())
        XCTAssertFalse(before.isEmpty)
        let done = DispatchSemaphore(value: 0)
        let thread = Thread {
            pyrpc_name_thread("probe-burn-3")
            let start = Self.threadCPUNanoseconds()
            while Self.threadCPUNanoseconds() - start < 30_000_000 {}
            done.signal()
            // Stays alive (named) until the second reading is taken.
            usleep(300_000)
        }
        thread.start()
        done.wait()
        let use = try XCTUnwrap(ThreadUse.between(before, ThreadClock.all(getpid()))["probe-burn-#"])
        XCTAssertEqual(use.threads, 1)
        XCTAssertGreaterThanOrEqual(use.cpuNanoseconds, 30_000_000)
        XCTAssertLessThan(use.cpuNanoseconds, 3_000_000_000)
    }

    private static func threadCPUNanoseconds() -> UInt64 {
        var now = timespec()
        clock_gettime(CLOCK_THREAD_CPUTIME_ID, &now)
        return UInt64(now.tv_sec) * 1_000_000_000 + UInt64(now.tv_nsec)
    }

    func testTheReportShowsEachKindPerCallAndFoldsTheSmallOnes() {
        var report = BenchReport()
        var row = BenchRow(workload: "add persistent c=8", server: "pyrpc", calls: 1_000, failures: 0, callsPerSecond: 1, p50: 0, p99: 0,
                           cpuPerCall: 10e-6, userPerCall: 2e-6, rss: 0)
        row.threads = [
            "io-s1-#": ThreadUse(threads: 1, cpuNanoseconds: 9_500_000, switches: 40),
            "watch-s1": ThreadUse(threads: 1, cpuNanoseconds: 60_000, switches: 300),
            "reaper": ThreadUse(threads: 1, cpuNanoseconds: 10_000, switches: 1),
            "py-s1-#": ThreadUse(threads: 8, cpuNanoseconds: 500_000, switches: 16),
        ]
        report.rows = [row, BenchRow(workload: "add persistent c=8", server: "C ceiling", calls: 1_000, failures: 0, callsPerSecond: 1, p50: 0, p99: 0,
                                     cpuPerCall: 9e-6, userPerCall: 1e-6, rss: 0)]
        let lines = report.markdown(machine: "test").split(separator: "\n").map(String.init).filter { $0.hasPrefix("| add persistent c=8 | pyrpc | ") && $0.contains("%") }
        XCTAssertEqual(lines, [
            "| add persistent c=8 | pyrpc | io-s1-# | 1 | 9.5 | 94.3% | 0.040 |",
            "| add persistent c=8 | pyrpc | py-s1-# | 8 | 0.5 | 5.0% | 0.016 |",
            "| add persistent c=8 | pyrpc | other: reaper, watch-s1 | 2 | 0.1 | 0.7% | 0.301 |",
        ])
    }
}
