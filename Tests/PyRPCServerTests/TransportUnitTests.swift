import Foundation
import NIOCore
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
}

private final class LockedList: @unchecked Sendable {
    private let lock = NSLock()
    private var items: [Int] = []
    func append(_ item: Int) { lock.withLock { items.append(item) } }
    var values: [Int] { lock.withLock { items } }
}
