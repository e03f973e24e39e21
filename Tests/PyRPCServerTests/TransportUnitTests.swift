import Foundation
import NIOCore
import NIOPosix
import XCTest
@testable import PyRPCServer

/// Small parts of the transport: sizing the event loops, batching answers to them.
final class TransportUnitTests: XCTestCase {
    func testCPUListsAreCounted() {
        XCTAssertEqual(EventLoops.countCPUs(list: "0"), 1)
        XCTAssertEqual(EventLoops.countCPUs(list: "\t0-1"), 2)
        XCTAssertEqual(EventLoops.countCPUs(list: "0-3,8,10-11"), 7)
        XCTAssertNil(EventLoops.countCPUs(list: "3-1"))
        XCTAssertNil(EventLoops.countCPUs(list: "x"))
        XCTAssertGreaterThanOrEqual(EventLoops.usableCores, 1)
        XCTAssertLessThanOrEqual(EventLoops.usableCores, System.coreCount)
    }

    func testBatchedAnswersReachTheirOwnPromisesInOrder() throws {
        let group = MultiThreadedEventLoopGroup(numberOfThreads: 2)
        defer { try? group.syncShutdownGracefully() }
        let loops = [group.next(), group.next()]
        let batcher = ReplyBatcher()
        let promises = (0..<10).map { loops[$0 % 2].makePromise(of: [UInt8].self) }
        let order = LockedList()
        for (index, promise) in promises.enumerated() {
            promise.futureResult.whenSuccess { _ in order.append(index) }
            batcher.add([UInt8(index)], for: promise)
        }
        XCTAssertEqual(order.values, [], "nothing is delivered before the flush")
        batcher.flush()
        for (index, promise) in promises.enumerated() {
            XCTAssertEqual(try promise.futureResult.wait(), [UInt8(index)])
        }
        let delivered = order.values
        XCTAssertEqual(delivered.filter { $0 % 2 == 0 }, [0, 2, 4, 6, 8], "each loop gets its answers in the order they were added")
        XCTAssertEqual(delivered.filter { $0 % 2 == 1 }, [1, 3, 5, 7, 9])
        batcher.flush()  // nothing left: no effect
    }
}

private final class LockedList: @unchecked Sendable {
    private let lock = NSLock()
    private var items: [Int] = []
    func append(_ item: Int) { lock.withLock { items.append(item) } }
    var values: [Int] { lock.withLock { items } }
}
