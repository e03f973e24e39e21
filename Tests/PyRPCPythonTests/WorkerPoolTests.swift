import Foundation
import XCTest
import CPython
import Dispatch
@testable import PyRPCPython
import PyRPCWire

/// Deadlines, load shedding and concurrency. Each test owns its pool and shuts it down.
final class WorkerPoolTests: XCTestCase {
    /// A job that calls `function` with no arguments and records what happened.
    func job(
        _ function: PythonFunction, deadline: Moment?, outcome: Box<CallOutcome?>,
        expired: XCTestExpectation? = nil, finished: XCTestExpectation? = nil, expiredAt: Box<Double?>? = nil,
        start: ContinuousClock.Instant = .now
    ) -> PythonJob {
        ClosureJob(
            deadline: deadline,
            work: { gil in outcome.value = function.call([], types: [], returns: [], gil) },
            expired: {
                expiredAt?.value = elapsed(since: start)
                expired?.fulfill()
            },
            finished: { finished?.fulfill() })
    }

    func function(_ source: String, _ name: String = "f", pool: PythonWorkerPool) async throws -> (LoadedScript, PythonFunction) {
        let script = try await load(source, pool: pool)
        let function = await pool.perform { gil in try? script.function(named: name, gil) }
        return (script, try XCTUnwrap(function))
    }

    func testGuestJobPastItsDeadlineIsInterrupted() async throws {
        let pool = PythonWorkerPool(name: "guest-timeout", workers: 1, maxPending: 4)
        defer { pool.shutdown(grace: .seconds(2)) }
        let (script, spin) = try await function("def f():\n    while True:\n        pass\n", pool: pool)
        let release = try occupyTheOnlyWorker(of: pool)
        defer { release.signal() }
        let outcome = Box<CallOutcome?>(nil)
        let expired = expectation(description: "expired")
        let finished = expectation(description: "finished")
        XCTAssertTrue(pool.submit(ClosureJob(
            deadline: .now + .milliseconds(200),
            work: { gil in outcome.value = spin.call([], types: [], returns: [], gil) },
            expired: { expired.fulfill() }, finished: { finished.fulfill() }), wake: false))
        let drained = expectation(description: "the guest got its thread back")
        Thread {
            let guest = pool.makeGuest()!
            pool.drain(as: guest, limit: 1)
            pool.retire(guest)
            drained.fulfill()
        }.start()
        await fulfillment(of: [expired, finished, drained], timeout: 5)
        XCTAssertEqual(outcome.value, .interrupted, "the monitor interrupts a guest's call as it does a worker's")
        release.signal()
        await script.unload(pool: pool)
    }

    func testBusyLoopIsInterruptedAndTheWorkerIsFreeAfterwards() async throws {
        let pool = PythonWorkerPool(name: "timeout-loop", workers: 1, maxPending: 4)
        defer { pool.shutdown(grace: .seconds(2)) }
        let (script, spin) = try await function("def f():\n    while True:\n        pass\n", pool: pool)
        let outcome = Box<CallOutcome?>(nil)
        let expiredAt = Box<Double?>(nil)
        let expired = expectation(description: "expired")
        let finished = expectation(description: "finished")
        let start = ContinuousClock.now
        XCTAssertTrue(pool.submit(job(spin, deadline: Moment.now + .milliseconds(300), outcome: outcome, expired: expired, finished: finished, expiredAt: expiredAt, start: start)))
        await fulfillment(of: [expired, finished], timeout: 5)
        let at = try XCTUnwrap(expiredAt.value)
        XCTAssertGreaterThanOrEqual(at, 0.29)
        XCTAssertLessThan(at, 1.0, "expired should be called about when the deadline passes")
        XCTAssertEqual(outcome.value, .interrupted)
        // The worker is free: the next job runs.
        let next = await pool.perform { _ in 7 }
        XCTAssertEqual(next, 7)
        await script.unload(pool: pool)
    }

    func testExceptExceptionDoesNotSwallowTheTimeout() async throws {
        let pool = PythonWorkerPool(name: "timeout-except", workers: 1, maxPending: 4)
        defer { pool.shutdown(grace: .seconds(2)) }
        let source = """
            def f():
                while True:
                    try:
                        while True:
                            pass
                    except Exception:
                        pass
            """
        let (script, stubborn) = try await function(source, pool: pool)
        let outcome = Box<CallOutcome?>(nil)
        let expired = expectation(description: "expired")
        let finished = expectation(description: "finished")
        XCTAssertTrue(pool.submit(job(stubborn, deadline: .now + .milliseconds(200), outcome: outcome, expired: expired, finished: finished)))
        await fulfillment(of: [expired, finished], timeout: 5)
        XCTAssertEqual(outcome.value, .interrupted)
        await script.unload(pool: pool)
    }

    func testSwallowedInterruptIsRaisedAgain() async throws {
        let pool = PythonWorkerPool(name: "timeout-again", workers: 1, maxPending: 4)
        defer { pool.shutdown(grace: .seconds(2)) }
        let source = """
            caught = 0
            def f():
                global caught
                while True:
                    try:
                        while True:
                            pass
                    except BaseException:
                        caught += 1
                        if caught >= 2:
                            return None
            """
        let (script, swallower) = try await function(source, pool: pool)
        let outcome = Box<CallOutcome?>(nil)
        let expired = expectation(description: "expired")
        let finished = expectation(description: "finished")
        let start = ContinuousClock.now
        XCTAssertTrue(pool.submit(job(swallower, deadline: Moment.now + .milliseconds(100), outcome: outcome, expired: expired, finished: finished)))
        await fulfillment(of: [expired, finished], timeout: 5)
        // The first interrupt was swallowed; a second one came about a second later.
        XCTAssertEqual(outcome.value, .returned([]))
        XCTAssertGreaterThan(elapsed(since: start), 0.9)
        let count = try await callOnce("def f():\n    return 0\n", returns: [.int], pool: pool)
        XCTAssertEqual(count, .returned([0]))
        await script.unload(pool: pool)
    }

    func testFinishedJobIsNotReportedAsExpired() async throws {
        let pool = PythonWorkerPool(name: "timeout-fast", workers: 1, maxPending: 4)
        defer { pool.shutdown(grace: .seconds(2)) }
        let (script, quick) = try await function("def f():\n    return None\n", pool: pool)
        let outcome = Box<CallOutcome?>(nil)
        let expired = expectation(description: "expired")
        expired.isInverted = true
        let finished = expectation(description: "finished")
        // The job claims itself when its call returns, as the server's calls do.
        let claimer = Box<PythonJob?>(nil)
        let job = ClosureJob(
            deadline: .now + .milliseconds(200),
            work: { gil in
                outcome.value = quick.call([], types: [], returns: [], gil)
                _ = claimer.value?.claim()
            },
            expired: { expired.fulfill() }, finished: { finished.fulfill() })
        claimer.value = job
        XCTAssertTrue(pool.submit(job))
        await fulfillment(of: [finished], timeout: 5)
        await fulfillment(of: [expired], timeout: 0.5)
        XCTAssertEqual(outcome.value, .returned([]))
        XCTAssertTrue(job.isClaimed)
        claimer.value = nil  // the job's closure holds the box that holds the job (AddressSanitizer's leak check found the cycle)
        // The pending-interrupt cleanup leaves the next call unharmed.
        let next = try await script.call("f", returns: [], pool: pool)
        XCTAssertEqual(next, .returned([]))
        await script.unload(pool: pool)
    }

    func testJobThatExpiresInTheQueueNeverRuns() async throws {
        let pool = PythonWorkerPool(name: "queue-expiry", workers: 1, maxPending: 4)
        defer { pool.shutdown(grace: .seconds(2)) }
        let (script, sleeper) = try await function("import time\ndef f():\n    time.sleep(0.4)\n", pool: pool)
        let firstOutcome = Box<CallOutcome?>(nil)
        let firstDone = expectation(description: "first finished")
        XCTAssertTrue(pool.submit(job(sleeper, deadline: nil, outcome: firstOutcome, finished: firstDone)))
        let ran = Box(false)
        let expired = expectation(description: "second expired")
        let secondDone = expectation(description: "second finished")
        XCTAssertTrue(
            pool.submit(
                ClosureJob(
                    deadline: .now + .milliseconds(100), work: { _ in ran.value = true }, expired: { expired.fulfill() },
                    finished: { secondDone.fulfill() })))
        await fulfillment(of: [expired, firstDone, secondDone], timeout: 5)
        XCTAssertFalse(ran.value)
        XCTAssertEqual(firstOutcome.value, .returned([]))
        await script.unload(pool: pool)
    }

    func testSleepingCallsOverlap() async throws {
        let pool = PythonWorkerPool(name: "overlap", workers: 4, maxPending: 8)
        defer { pool.shutdown(grace: .seconds(2)) }
        let (script, sleeper) = try await function("import time\ndef f():\n    time.sleep(0.5)\n", pool: pool)
        let outcomes = (0..<4).map { _ in Box<CallOutcome?>(nil) }
        let done = (0..<4).map { expectation(description: "job \($0)") }
        let start = ContinuousClock.now
        for index in 0..<4 {
            XCTAssertTrue(pool.submit(job(sleeper, deadline: .now + .seconds(10), outcome: outcomes[index], finished: done[index])))
        }
        await fulfillment(of: done, timeout: 10)
        let total = elapsed(since: start)
        XCTAssertGreaterThanOrEqual(total, 0.49)
        XCTAssertLessThan(total, 1.5, "four 0.5 s sleeps on four workers should overlap")
        for outcome in outcomes { XCTAssertEqual(outcome.value, .returned([])) }
        await script.unload(pool: pool)
    }

    func testFullQueueRefusesJobs() async throws {
        let pool = PythonWorkerPool(name: "shedding", workers: 1, maxPending: 1)
        defer { pool.shutdown(grace: .seconds(2)) }
        let (script, sleeper) = try await function("import time\ndef f():\n    time.sleep(0.3)\n", pool: pool)
        let started = expectation(description: "first started")
        let firstDone = expectation(description: "first")
        let secondDone = expectation(description: "second")
        XCTAssertTrue(
            pool.submit(
                ClosureJob(
                    deadline: nil,
                    work: { gil in
                        started.fulfill()
                        _ = sleeper.call([], types: [], returns: [], gil)
                    }, finished: { firstDone.fulfill() })))
        await fulfillment(of: [started], timeout: 5)  // the worker has taken the first job off the queue
        XCTAssertTrue(pool.submit(ClosureJob(deadline: nil, work: { _ in }, finished: { secondDone.fulfill() })))
        XCTAssertEqual(pool.pendingCount, 1)
        let refused = Box(false)
        XCTAssertFalse(pool.submit(ClosureJob(deadline: nil, work: { _ in XCTFail("a refused job ran") }, finished: { refused.value = true })))
        // Admin work may still be forced in.
        let forcedDone = expectation(description: "forced")
        XCTAssertTrue(pool.submit(ClosureJob(deadline: nil, work: { _ in }, finished: { forcedDone.fulfill() }), force: true))
        // All three out of the queue (the forced one last) before asking for room again: under
        // ThreadSanitizer the forced job was still queued when the other two had finished.
        await fulfillment(of: [firstDone, secondDone, forcedDone], timeout: 5)
        XCTAssertFalse(refused.value, "a refused job is never finished either")
        XCTAssertTrue(pool.submit(ClosureJob(deadline: nil, work: { _ in })), "room again once the queue drains")
        await script.unload(pool: pool)
    }

    /// Loading, unloading and releasing a generation are forced into the queue; a full
    /// `maxPending` of calls must still fit beside them. (A new server's first job is the
    /// release of its empty first generation: with `--max-pending 1` a call sent at once was
    /// refused, as if a call were waiting, while that job was still queued.)
    func testForcedJobsTakeNoRoomFromCalls() async throws {
        let pool = PythonWorkerPool(name: "forced-room", workers: 1, maxPending: 1)
        defer { pool.shutdown(grace: .seconds(2)) }
        let gate = DispatchSemaphore(value: 0)
        let started = expectation(description: "blocker started")
        let order = Box<[String]>([])
        let lock = NSLock()
        func finished(_ name: String, _ done: XCTestExpectation) -> @Sendable () -> Void {
            { lock.withLock { order.value.append(name) }; done.fulfill() }
        }
        let blockerDone = expectation(description: "blocker")
        XCTAssertTrue(pool.submit(ClosureJob(deadline: nil, work: { _ in
            started.fulfill()
            gate.wait()
        }, finished: finished("blocker", blockerDone))))
        await fulfillment(of: [started], timeout: 5)  // the worker holds it: the queue is empty

        let forcedDone = expectation(description: "forced")
        XCTAssertTrue(pool.submit(ClosureJob(deadline: nil, work: { _ in }, finished: finished("forced", forcedDone)), force: true))
        let callDone = expectation(description: "call")
        XCTAssertTrue(
            pool.submit(ClosureJob(deadline: nil, work: { _ in }, finished: finished("call", callDone))),
            "a forced job waiting must not take the one place for calls")
        XCTAssertEqual(pool.pendingCount, 2, "both wait, and both will run")
        let refused = Box(false)
        XCTAssertFalse(
            pool.submit(ClosureJob(deadline: nil, work: { _ in XCTFail("a refused job ran") }, finished: { refused.value = true })),
            "the limit still holds for calls: one is waiting")

        gate.signal()
        await fulfillment(of: [blockerDone, forcedDone, callDone], timeout: 5)
        XCTAssertEqual(lock.withLock { order.value }, ["blocker", "forced", "call"])
        XCTAssertFalse(refused.value)
        XCTAssertEqual(pool.pendingCount, 0)
        // Taken off the queue, the forced job gave its count back: the place is free again.
        let againDone = expectation(description: "again")
        XCTAssertTrue(pool.submit(ClosureJob(deadline: nil, work: { _ in }, finished: { againDone.fulfill() })))
        await fulfillment(of: [againDone], timeout: 5)
    }

    func testShutdownStopsTakingJobsButPerformStillAnswers() async throws {
        let pool = PythonWorkerPool(name: "shutdown", workers: 2, maxPending: 4)
        XCTAssertEqual(pool.workerCount, 2)
        XCTAssertEqual(pool.maxPending, 4)
        let before = await pool.perform { _ in "before" }
        XCTAssertEqual(before, "before")
        XCTAssertTrue(pool.shutdown(grace: .seconds(2)))
        XCTAssertFalse(pool.submit(ClosureJob(deadline: nil, work: { _ in })))
        let after = await pool.perform { _ in "after" }
        XCTAssertEqual(after, "after")
        let blocking = pool.performBlocking { _ in 5 }
        XCTAssertEqual(blocking, 5)
    }

    func testPerformBlocking() throws {
        let value = sharedPool.performBlocking { _ in "ok" }
        XCTAssertEqual(value, "ok")
    }

    func testJobIsClaimedOnce() {
        let job = ClosureJob(deadline: nil, work: { _ in })
        XCTAssertFalse(job.isClaimed)
        XCTAssertTrue(job.claim())
        XCTAssertFalse(job.claim())
        XCTAssertTrue(job.isClaimed)
    }
}

/// The scheduling that keeps one worker busy instead of waking one per job.
final class WorkerPoolSchedulingTests: XCTestCase {
    func testGuestRunsQueuedJobsOnItsOwnThreadUpToItsLimit() throws {
        let pool = PythonWorkerPool(name: "guest", workers: 1, maxPending: 16)
        defer { pool.shutdown(grace: .seconds(2)) }
        let release = try occupyTheOnlyWorker(of: pool)
        defer { release.signal() }
        let ranOn = Box<[UInt]>([])  // jobs run one after another on the guest
        for _ in 0..<5 {
            XCTAssertTrue(pool.submit(ClosureJob(deadline: nil, work: { _ in
                ranOn.value.append(UInt(PyThread_get_thread_ident()))
            }), wake: false))
        }
        let done = expectation(description: "guest thread finished")
        let guestIdent = Box<UInt>(0)
        Thread {
            let guest = pool.makeGuest()!
            guestIdent.value = UInt(PyThread_get_thread_ident())
            XCTAssertTrue(pool.drain(as: guest, limit: 3), "two jobs are left after a limit of three")
            XCTAssertFalse(pool.drain(as: guest, limit: 3), "the queue is empty")
            XCTAssertFalse(pool.drain(as: guest, limit: 3), "nothing to run: returns at once")
            pool.retire(guest)
            done.fulfill()
        }.start()
        wait(for: [done], timeout: 5)
        XCTAssertEqual(ranOn.value, Array(repeating: guestIdent.value, count: 5), "every job ran on the guest's thread")
    }

    func testJobQueuedWithoutWakeRunsAfterWakeIfIdle() async throws {
        let pool = PythonWorkerPool(name: "deferred", workers: 2, maxPending: 8)
        defer { pool.shutdown(grace: .seconds(2)) }
        let ran = (0..<3).map { expectation(description: "job \($0)") }
        for index in 0..<3 {
            XCTAssertTrue(pool.submit(ClosureJob(deadline: nil, work: { _ in ran[index].fulfill() }), wake: false))
        }
        pool.wakeIfIdle()
        await fulfillment(of: ran, timeout: 5, enforceOrder: true)
    }

    func testForgottenWakeIsCaughtByTheMonitor() async throws {
        let pool = PythonWorkerPool(name: "forgotten", workers: 2, maxPending: 8)
        defer { pool.shutdown(grace: .seconds(2)) }
        let ran = expectation(description: "ran")
        let start = ContinuousClock.now
        XCTAssertTrue(pool.submit(ClosureJob(deadline: nil, work: { _ in ran.fulfill() }), wake: false))
        await fulfillment(of: [ran], timeout: 5)
        XCTAssertLessThan(elapsed(since: start), 1, "the stall check should start it within milliseconds")
    }

    func testQuickJobIsNotStuckBehindABlockingOne() async throws {
        let pool = PythonWorkerPool(name: "stall", workers: 2, maxPending: 8)
        defer { pool.shutdown(grace: .seconds(3)) }
        let script = try await load("import time\ndef f():\n    time.sleep(1.5)\n", pool: pool)
        let found = await pool.perform { gil in try? script.function(named: "f", gil) }
        let sleeper = try XCTUnwrap(found)
        let slowDone = expectation(description: "slow")
        let quickDone = expectation(description: "quick")
        let start = ContinuousClock.now
        let quickAt = Box<Double?>(nil)
        XCTAssertTrue(pool.submit(ClosureJob(deadline: nil, work: { gil in _ = sleeper.call([], types: [], returns: [], gil) }, finished: { slowDone.fulfill() })))
        try await Task.sleep(for: .milliseconds(100))  // the sleeper is running and holds the only awake worker
        XCTAssertTrue(pool.submit(ClosureJob(deadline: nil, work: { _ in quickAt.value = elapsed(since: start) }, finished: { quickDone.fulfill() })))
        await fulfillment(of: [quickDone], timeout: 5)
        XCTAssertLessThan(try XCTUnwrap(quickAt.value), 0.6, "a parked worker should take the quick job while the first one sleeps")
        await fulfillment(of: [slowDone], timeout: 5)
        await script.unload(pool: pool)
    }

    func testWorkersDoNotPreemptOnWakeUp() async throws {
        let outcome = try await callOnce("import os\ndef f():\n    return os.sched_getscheduler(0) == os.SCHED_BATCH\n", returns: [.bool])
        XCTAssertEqual(outcome, .returned([.bool(true)]), "Python workers should run as SCHED_BATCH")
    }

    /// A job's captures (a request, megabytes) are released as soon as it has run, not when
    /// the queue is next compacted: keeping them held 1.5 GB on a 1 MB-message benchmark.
    func testJobIsReleasedOnceItHasRun() async throws {
        final class Payload: Sendable {}
        let pool = PythonWorkerPool(name: "release", workers: 1, maxPending: 8)
        defer { pool.shutdown(grace: .seconds(2)) }
        weak var watched: Payload?
        let ran = expectation(description: "ran")
        do {
            let payload = Payload()
            watched = payload
            XCTAssertTrue(pool.submit(ClosureJob(deadline: nil, work: { _ in withExtendedLifetime(payload) {} }, finished: { ran.fulfill() })))
        }
        await fulfillment(of: [ran], timeout: 5)
        // Keep another job queued so the queue is not simply emptied.
        let second = expectation(description: "second")
        XCTAssertTrue(pool.submit(ClosureJob(deadline: nil, work: { _ in }, finished: { second.fulfill() })))
        await fulfillment(of: [second], timeout: 5)
        for _ in 0..<50 where watched != nil { try await Task.sleep(for: .milliseconds(10)) }
        XCTAssertNil(watched, "the pool still holds a job that has finished")
    }
}

/// Many mixed jobs through the pool's single-wake scheduling: every one runs exactly once.
final class WorkerPoolStressTests: XCTestCase {
    func testMixedJobsAllRunExactlyOnce() async throws {
        let pool = PythonWorkerPool(name: "stress", workers: 4, maxPending: 4096)
        defer { pool.shutdown(grace: .seconds(5)) }
        let script = try await load("""
            import time
            def quick(x):
                return x + 1
            def nap(x):
                time.sleep(0.002)
                return x
            def fail(x):
                raise ValueError(x)
            """, pool: pool)
        let functions: [PythonFunction] = try await ["quick", "nap", "fail"].asyncMap { name in
            let found = await pool.perform { gil in try? script.function(named: name, gil) }
            return try XCTUnwrap(found)
        }
        let count = 1500
        let runs = (0..<count).map { _ in Box<Int>(0) }
        let outcomes = (0..<count).map { _ in Box<CallOutcome?>(nil) }
        let finished = expectation(description: "all finished")
        finished.expectedFulfillmentCount = count
        var random = SystemRandomNumberGenerator()
        for index in 0..<count {
            let function = functions[index % 7 == 0 ? 1 : (index % 11 == 0 ? 2 : 0)]
            let job = ClosureJob(
                deadline: .now + .seconds(30),
                work: { gil in
                    runs[index].value += 1
                    outcomes[index].value = function.call([.int(index)], types: [.int], returns: [.int], gil)
                },
                finished: { finished.fulfill() })
            XCTAssertTrue(pool.submit(job, wake: Bool.random(using: &random)))
            if index % 50 == 0 { pool.wakeIfIdle() }
        }
        await fulfillment(of: [finished], timeout: 30)
        for index in 0..<count {
            XCTAssertEqual(runs[index].value, 1, "job \(index) ran \(runs[index].value) times")
            switch index % 7 == 0 ? 1 : (index % 11 == 0 ? 2 : 0) {
            case 0: XCTAssertEqual(outcomes[index].value, .returned([.int(index + 1)]))
            case 1: XCTAssertEqual(outcomes[index].value, .returned([.int(index)]))
            default:
                guard case .raised = outcomes[index].value else { return XCTFail("job \(index): \(String(describing: outcomes[index].value))") }
            }
        }
        await script.unload(pool: pool)
    }
}

private extension Array {
    func asyncMap<T>(_ transform: (Element) async throws -> T) async rethrows -> [T] {
        var result: [T] = []
        for element in self { result.append(try await transform(element)) }
        return result
    }
}

/// Keeps the worker of a one-worker pool busy, off the GIL, until the returned semaphore is
/// signalled: no job queued meanwhile can be taken by a worker the stall check wakes, so a
/// guest is the one to run them.
func occupyTheOnlyWorker(of pool: PythonWorkerPool) throws -> DispatchSemaphore {
    let release = DispatchSemaphore(value: 0)
    let busy = DispatchSemaphore(value: 0)
    XCTAssertTrue(pool.submit(ClosureJob(deadline: nil, work: { _ in
        busy.signal()
        let state = PyEval_SaveThread()
        release.wait()
        PyEval_RestoreThread(state)
    })))
    guard busy.wait(timeout: .now() + 5) == .success else { throw WorkerDidNotStart() }
    return release
}

struct WorkerDidNotStart: Error {}
