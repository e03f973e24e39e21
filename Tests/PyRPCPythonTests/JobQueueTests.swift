import XCTest
@testable import PyRPCPython

/// The pool's ring of pending jobs: first in, first out, across wrapping and growing.
final class JobQueueTests: XCTestCase {
    final class Numbered: PythonJob, @unchecked Sendable {
        let number: Int
        init(_ number: Int) {
            self.number = number
            super.init(deadline: nil)
        }
    }

    func numbers(_ queue: inout JobQueue, take count: Int) -> [Int] {
        (0..<count).compactMap { _ in (queue.popFirst() as? Numbered)?.number }
    }

    func testJobsComeOutInOrderAcrossWrapsAndGrowth() {
        var queue = JobQueue()
        var next = 0
        var expected = 0
        // Uneven rounds of adding and taking move the head around the ring and make it grow
        // while it wraps (16 slots at first).
        for (add, take) in [(10, 7), (12, 12), (40, 5), (3, 30), (70, 60), (0, 21)] {
            for _ in 0..<add {
                queue.append(Numbered(next))
                next += 1
            }
            XCTAssertEqual(numbers(&queue, take: take), Array(expected..<expected + take))
            expected += take
        }
        XCTAssertEqual(queue.count, 0)
        XCTAssertTrue(queue.isEmpty)
        XCTAssertNil(queue.popFirst())
    }

    func testTakeAllEmptiesItOldestFirst() {
        var queue = JobQueue()
        for number in 0..<20 { queue.append(Numbered(number)) }
        XCTAssertEqual(numbers(&queue, take: 5), [0, 1, 2, 3, 4])
        XCTAssertEqual(queue.takeAll().map { ($0 as! Numbered).number }, Array(5..<20))
        XCTAssertTrue(queue.isEmpty)
    }

    /// A job taken out is not held by the queue any more (it holds its request's bytes).
    func testATakenJobIsReleased() {
        var queue = JobQueue()
        weak var taken: Numbered?
        do {
            let job = Numbered(1)
            taken = job
            queue.append(job)
        }
        XCTAssertNotNil(taken)
        _ = queue.popFirst()
        XCTAssertNil(taken, "the slot let go of the job")
    }
}
