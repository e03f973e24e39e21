import Foundation
@testable import PyRPCPython
import XCTest

/// The pool's monitor looks 1 ms apart only while something waits; while work flows its
/// looks spread out to 4 ms, and it never preempts the thread it watches (`TickPace`).
final class MonitorPaceTests: XCTestCase {
    func testPauseDoublesWhileNothingWaitsAndIsShortAgainWhenSomethingDoes() {
        var pace = TickPace()
        XCTAssertEqual(pace.next(oldestWait: 0, untilDeadline: nil), 0.002)
        XCTAssertEqual(pace.next(oldestWait: 0, untilDeadline: nil), 0.004)
        XCTAssertEqual(pace.next(oldestWait: 0.0004, untilDeadline: nil), 0.004, "well under a delay is not a wait yet")
        XCTAssertEqual(pace.next(oldestWait: 0, untilDeadline: nil), TickPace.longest)
        XCTAssertEqual(pace.next(oldestWait: 0.0005, untilDeadline: nil), 0.001, "half a delay: look again when it is up")
        XCTAssertEqual(pace.next(oldestWait: 0.003, untilDeadline: nil), 0.001, "still stuck: keep looking every delay")
        XCTAssertEqual(pace.next(oldestWait: 0, untilDeadline: nil), 0.002)
    }

    func testADeadlineIsNeverOverslept() {
        var pace = TickPace()
        _ = pace.next(oldestWait: 0, untilDeadline: nil)
        XCTAssertEqual(pace.next(oldestWait: 0, untilDeadline: 0.0015), 0.0015)
        XCTAssertEqual(pace.pause, 0.004, "the pace itself goes on")
        XCTAssertEqual(pace.next(oldestWait: 0, untilDeadline: 1), 0.004)
        XCTAssertEqual(pace.next(oldestWait: 0, untilDeadline: -0.5), 0, "a deadline already past: look at once")
    }

    func testWorkAfterAnIdleSleepStartsWithShortLooks() {
        var pace = TickPace()
        for _ in 0..<5 { _ = pace.next(oldestWait: 0, untilDeadline: nil) }
        XCTAssertEqual(pace.pause, TickPace.longest)
        pace.restart()
        XCTAssertEqual(pace.pause, TickPace.shortest)
        XCTAssertEqual(pace.next(oldestWait: 0, untilDeadline: nil), 0.002)
    }

    /// A job taken since the last look keeps the monitor looking, though it never saw one
    /// running: as SCHED_BATCH it may only get the core while the jobs' thread sleeps. (Before,
    /// it stopped looking, and every call rang it awake again: 13,000 wake-ups a second at c=1.)
    func testJobsTakenBetweenLooksCountAsBusy() {
        var watch = StallWatch()
        let start = Moment.now
        let idle = watch.look(at: start.advanced(bySeconds: 0.1), busy: false, waiting: false, takes: 0, anyParked: true)
        XCTAssertFalse(idle.keepTicking, "nothing ran for longer than the linger")
        let moved = watch.look(at: start.advanced(bySeconds: 0.2), busy: false, waiting: false, takes: 3, anyParked: true)
        XCTAssertTrue(moved.keepTicking, "three jobs were taken since the last look")
        let still = watch.look(at: start.advanced(bySeconds: 0.2 + StallWatch.lingerSeconds / 2), busy: false, waiting: false, takes: 3, anyParked: true)
        XCTAssertTrue(still.keepTicking, "within the linger after the last job")
        let later = watch.look(at: start.advanced(bySeconds: 0.3 + StallWatch.lingerSeconds), busy: false, waiting: false, takes: 3, anyParked: true)
        XCTAssertFalse(later.keepTicking, "the linger is over")
    }

    /// The real monitor, watching a job that runs for 0.6 s: looks spread out while its owner
    /// reports nothing waiting, and come every millisecond or so once it reports a wait.
    func testMonitorLooksSpreadOutWhileNothingWaits() async throws {
        let log = Box<(looks: [Moment], waited: Double)>(([], 0))
        let pool = PythonWorkerPool(name: "pace", workers: 1, maxPending: 4, onTick: { now in
            var waited = 0.0
            log.update { state in
                state.looks.append(now)
                waited = state.waited
            }
            return waited
        })
        defer { pool.shutdown(grace: .seconds(2)) }
        let done = expectation(description: "job")
        XCTAssertTrue(pool.submit(ClosureJob(deadline: nil, work: { _ in Thread.sleep(forTimeInterval: 0.6) }, finished: { done.fulfill() })))
        try await Task.sleep(for: .milliseconds(300))
        let switched = Moment.now
        log.update { $0.waited = 0.002 }
        await fulfillment(of: [done], timeout: 5)
        let looks = log.value.looks
        let flowing = Self.gaps(looks.filter { $0 < switched }.dropFirst(10))
        let waiting = Self.gaps(looks.filter { $0 > switched.advanced(bySeconds: 0.01) && $0 < switched.advanced(bySeconds: 0.25) })
        XCTAssertGreaterThan(flowing.count, 20, "the monitor looked \(flowing.count + 1) times in 0.3 s of work")
        XCTAssertGreaterThan(waiting.count, 20, "the monitor looked \(waiting.count + 1) times in 0.24 s with something waiting")
        XCTAssertGreaterThanOrEqual(Self.median(flowing), 0.0035, "looks should be 4 ms apart while nothing waits")
        XCTAssertLessThan(Self.median(waiting), 0.0025, "looks should be about 1 ms apart while something waits")
    }

    func testMonitorDoesNotPreemptOnWakeUp() throws {
        let pool = PythonWorkerPool(name: "batch", workers: 1, maxPending: 4)
        defer { pool.shutdown(grace: .seconds(2)) }
        // The thread names itself and sets its policy as it starts: wait for both (2 s at most).
        var policy = Self.schedulingPolicy(ofThreadNamed: "watch-batch")
        for _ in 0..<200 where policy != 3 {
            Thread.sleep(forTimeInterval: 0.01)
            policy = Self.schedulingPolicy(ofThreadNamed: "watch-batch")
        }
        XCTAssertEqual(try XCTUnwrap(policy, "no thread named watch-batch"), 3, "the monitor should run as SCHED_BATCH (3)")
    }

    private static func gaps<Looks: Collection>(_ looks: Looks) -> [Double] where Looks.Element == Moment {
        zip(looks, looks.dropFirst()).map { earlier, later in later.seconds(since: earlier) }
    }

    private static func median(_ values: [Double]) -> Double {
        values.isEmpty ? 0 : values.sorted()[values.count / 2]
    }

    /// Field 41 of /proc/self/task/T/stat (counted after the name in parentheses) of the
    /// thread with that name (nil: none has it).
    private static func schedulingPolicy(ofThreadNamed name: String) -> Int? {
        guard let tasks = try? FileManager.default.contentsOfDirectory(atPath: "/proc/self/task") else { return nil }
        for task in tasks {
            guard let comm = try? String(contentsOfFile: "/proc/self/task/\(task)/comm", encoding: .utf8),
                  comm.trimmingCharacters(in: .whitespacesAndNewlines) == name,
                  let stat = try? String(contentsOfFile: "/proc/self/task/\(task)/stat", encoding: .utf8),
                  let close = stat.lastIndex(of: ")")
            else { continue }
            // After ")": field 3 (state) onwards; policy is field 41.
            let fields = stat[stat.index(after: close)...].split(separator: " ")
            return fields.count > 38 ? Int(fields[38]) : nil
        }
        return nil
    }
}
