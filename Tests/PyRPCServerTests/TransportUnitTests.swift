#if canImport(Glibc)
import Glibc
#endif
// Socket constants (SOCK_STREAM...): a clean build of this module finds them only through
// CLinux (Swift 6.3), since another file of it imports CLinux.
import CLinux
import Dispatch
import Foundation
import NIOCore
import PyRPCPython
import PyRPCWire
import XCTest
@testable import PyRPCServer

/// Small parts of the transport: sizing the loops, handing leadership over, keeping answers
/// in order, remembering peers.
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

    func testSeveralLoopsShareTheListenerAndEachServesItsConnections() async throws {
        // Machines with more cores run several loops on one listening socket.
        var options = ServerOptions()
        options.ioLoops = 3
        let network = try await Fixtures.start(options: options)
        let sleeper = try network.socket()
        defer { sleeper.close() }
        try sleeper.send(requestLine(service: "demo", rpc: "nap", arguments: [0.5], types: ["float"], returns: ["float"], id: "nap") + "\n")
        let port = network.port
        try await withThrowingTaskGroup(of: Void.self) { group in
            for connection in 0..<24 {
                group.addTask {
                    let socket = try RawSocket(host: "127.0.0.1", port: port)
                    defer { socket.close() }
                    let lines = (0..<20).map { call in
                        requestLine(arguments: [.int(connection), .int(call)], types: ["int", "int"], returns: ["int"], id: .int(call))
                    }
                    try socket.send(lines.joined(separator: "\n") + "\n")
                    for call in 0..<20 {
                        let answer = try JSONParser.parse(try socket.readLine())
                        XCTAssertEqual(answer["value"]?["id"], .int(call))
                        XCTAssertEqual(answer.returnValues, [.int(connection + call)])
                    }
                }
            }
            try await group.waitForAll()
        }
        XCTAssertEqual(try JSONParser.parse(try sleeper.readLine()).returnValues, [0.5])
        let open = try network.socket()
        defer { open.close() }
        try open.send(requestLine(arguments: [1, 1], types: ["int", "int"], returns: ["int"]) + "\n")
        XCTAssertEqual(try JSONParser.parse(try open.readLine()).returnValues, [2])
        await network.stop()
        XCTAssertTrue(try open.readsEOF(), "stop closes the connections of every loop")
    }

    func testLeadershipIsHandedOverOnlyAfterTheDelay() {
        let leadership = Leadership(maxThreads: 2)
        XCTAssertTrue(leadership.admitThread())
        let standby = DispatchSemaphore(value: 0)
        XCTAssertTrue(leadership.acquire(standby: standby))
        guard case .none = leadership.handoverIfStuck(now: Moment.now + .seconds(1)) else {
            return XCTFail("a loop with a leader needs no handover")
        }
        leadership.release()  // the leader goes to run Python
        guard case .none = leadership.handoverIfStuck(now: .now) else {
            return XCTFail("a quick call must not cost a handover")
        }
        guard case .startThread = leadership.handoverIfStuck(now: Moment.now.advanced(bySeconds: Leadership.handoverDelaySeconds)) else {
            return XCTFail("no standby: a thread is started")
        }
        guard case .none = leadership.handoverIfStuck(now: Moment.now.advanced(bySeconds: Leadership.handoverDelaySeconds)) else {
            return XCTFail("one handover per delay, and never beyond the thread limit")
        }
        guard case .none = leadership.handoverIfStuck(now: Moment.now + .seconds(1)) else {
            return XCTFail("two threads is the limit")
        }
    }

    /// What the pool's monitor paces its looks by: how long the loop has gone without a leader.
    func testLeaderlessTimeCountsFromTheStepDownUntilSomeoneLeads() {
        let leadership = Leadership(maxThreads: 2)
        XCTAssertTrue(leadership.admitThread())
        let standby = DispatchSemaphore(value: 0)
        XCTAssertTrue(leadership.acquire(standby: standby))
        XCTAssertEqual(leadership.leaderlessSeconds(now: Moment.now + .seconds(1)), 0, "it has a leader")
        let steppedDown = Moment.now
        leadership.release()
        let waited = leadership.leaderlessSeconds(now: steppedDown.advanced(bySeconds: 0.5))
        XCTAssertGreaterThan(waited, 0.45)
        XCTAssertLessThanOrEqual(waited, 0.5)
        XCTAssertTrue(leadership.acquire(standby: standby))
        XCTAssertEqual(leadership.leaderlessSeconds(now: Moment.now + .seconds(1)), 0, "it leads again")
        leadership.release()
        leadership.stop()
        XCTAssertEqual(leadership.leaderlessSeconds(now: Moment.now + .seconds(1)), 0, "a stopping loop needs no watch")
    }

    func testStandbyLeadsWhenWokenAndStopEndsEveryone() {
        let leadership = Leadership(maxThreads: 3)
        let first = DispatchSemaphore(value: 0)
        XCTAssertTrue(leadership.acquire(standby: first))
        let ledBySecond = expectation(description: "the standby leads once woken")
        let exited = expectation(description: "after stop and clean-up, nobody leads again")
        let second = DispatchSemaphore(value: 0)
        let cleanUp = DispatchSemaphore(value: 0)
        Thread {
            guard leadership.acquire(standby: second) else { return }
            ledBySecond.fulfill()
            cleanUp.wait()
            leadership.cleanedUp()
            if !leadership.acquire(standby: second) { exited.fulfill() }
        }.start()
        Thread.sleep(forTimeInterval: 0.05)  // it parks: the first thread leads
        leadership.release()
        guard case .wake(let standby) = leadership.handoverIfStuck(now: Moment.now.advanced(bySeconds: Leadership.handoverDelaySeconds)) else {
            return XCTFail("the parked thread is woken")
        }
        standby.signal()
        wait(for: [ledBySecond], timeout: 5)
        leadership.stop()
        XCTAssertFalse(leadership.acquire(standby: first), "stopping while another thread leads: exit at once")
        guard case .none = leadership.handoverIfStuck(now: Moment.now + .seconds(1)) else {
            return XCTFail("no handover while stopping")
        }
        cleanUp.signal()
        wait(for: [exited], timeout: 5)
        XCTAssertFalse(leadership.tryAcquire())
    }

    func testAfterStopOneThreadStillLeadsToCleanUp() {
        let leadership = Leadership(maxThreads: 1)
        let standby = DispatchSemaphore(value: 0)
        XCTAssertTrue(leadership.acquire(standby: standby))
        leadership.release()  // in Python when the server stops
        leadership.stop()
        XCTAssertTrue(leadership.acquire(standby: standby), "back from Python: it leads once more, to close the connections")
        XCTAssertFalse(leadership.tryAcquire())
        leadership.cleanedUp()
        XCTAssertFalse(leadership.acquire(standby: standby))
        XCTAssertTrue(leadership.isCleanedUp)
    }

    func testAnswersAreWrittenInTheOrderOfTheirMessages() {
        let connection = Connection(id: 1, fd: -1, peer: "127.0.0.1", memo: RequestMemo(), maxMessageBytes: 100, epoch: 0)
        let sequences = (0..<4).map { _ in connection.nextSequence() }
        XCTAssertEqual(sequences, [0, 1, 2, 3])
        XCTAssertFalse(connection.deliver(Array("c".utf8), sequence: 2), "held back: 0 and 1 are missing")
        XCTAssertFalse(connection.hasOutput)
        XCTAssertTrue(connection.deliver(Array("a".utf8), sequence: 0))
        XCTAssertEqual(Array(connection.output[connection.outputOffset...]), Array("a".utf8))
        XCTAssertTrue(connection.deliver(Array("b".utf8), sequence: 1))
        XCTAssertEqual(Array(connection.output[connection.outputOffset...]), Array("abc".utf8), "1 releases 2")
        XCTAssertFalse(connection.isIdle)
        connection.wrote(2)
        XCTAssertEqual(Array(connection.output[connection.outputOffset...]), Array("c".utf8))
        XCTAssertTrue(connection.deliver(Array("d".utf8), sequence: 3))
        XCTAssertTrue(connection.isIdle)
        connection.wrote(2)
        XCTAssertFalse(connection.hasOutput)
        connection.inputClosed = true
        XCTAssertTrue(connection.isFinished)
    }
    func testPeerNamesDependOnTheAddressNotThePort() {
        var peers = PeerMemory()
        XCTAssertEqual(peers.name(of: Self.storage(ipv4: "127.0.0.1", port: 40000)), "127.0.0.1")
        XCTAssertEqual(peers.name(of: Self.storage(ipv4: "127.0.0.1", port: 40001)), "127.0.0.1")
        XCTAssertEqual(peers.name(of: Self.storage(ipv4: "127.0.0.2", port: 40001)), "127.0.0.2", "another address, same port")
        XCTAssertEqual(peers.name(of: Self.storage(ipv6: "::ffff:10.0.0.7", port: 1)), "10.0.0.7", "normalized as authorisation reads it")
        XCTAssertEqual(peers.name(of: Self.storage(ipv6: "::1", port: 1)), "::1")
        XCTAssertEqual(peers.name(of: Self.storage(ipv4: "127.0.0.1", port: 1)), "127.0.0.1")
    }

    func testRequestMemoryPassesToTheNextConnectionFromTheSameAddressOnly() throws {
        var peers = PeerMemory()
        let first = peers.takeMemo(for: "127.0.0.1", generation: 1)
        XCTAssertFalse(peers.takeMemo(for: "127.0.0.1", generation: 1) === first, "two open connections never share a memory")
        peers.keep(first, for: "127.0.0.1", generation: 1)
        XCTAssertFalse(peers.takeMemo(for: "127.0.0.1", generation: 1) === first, "a memory without a request is not worth keeping")

        let used = peers.takeMemo(for: "127.0.0.1", generation: 1)
        used.template = try XCTUnwrap(Array(requestLine(arguments: [1, 2], types: ["int", "int"], returns: ["int"]).utf8).withUnsafeBytes { RequestTemplate.read($0) }?.template)
        peers.keep(used, for: "127.0.0.1", generation: 1)
        XCTAssertFalse(peers.takeMemo(for: "127.0.0.2", generation: 1) === used, "another address starts afresh")
        XCTAssertTrue(peers.takeMemo(for: "127.0.0.1", generation: 1) === used, "the next connection from the address takes it over")
        XCTAssertFalse(peers.takeMemo(for: "127.0.0.1", generation: 1) === used, "and only that one")

        for index in 0..<PeerMemory.capacity { peers.keep(used, for: "10.0.\(index / 256).\(index % 256)", generation: 1) }
        peers.keep(used, for: "127.0.0.9", generation: 1)
        XCTAssertTrue(peers.takeMemo(for: "127.0.0.9", generation: 1) === used)
        XCTAssertFalse(peers.takeMemo(for: "10.0.0.0", generation: 1) === used, "past its capacity the table starts over")

        peers.keep(used, for: "127.0.0.1", generation: 1)
        XCTAssertFalse(peers.takeMemo(for: "127.0.0.1", generation: 2) === used, "after a deploy every memory is dropped")
        peers.keep(used, for: "127.0.0.1", generation: 2)
        peers.keep(RequestMemo(), for: "127.0.0.3", generation: 3)
        XCTAssertFalse(peers.takeMemo(for: "127.0.0.1", generation: 3) === used, "also when a connection closes after it")
    }

    /// Connections opened several at a time from one address (one-shot calls from a pool of
    /// threads) each leave a memory, and the next ones each take one, up to a bound.
    func testEachOfSeveralConnectionsFromOneAddressLeavesItsMemory() throws {
        var peers = PeerMemory()
        let line = Array(requestLine(arguments: [1, 2], types: ["int", "int"], returns: ["int"]).utf8)
        let template = try XCTUnwrap(line.withUnsafeBytes { RequestTemplate.read($0) }?.template)
        let open = (0..<(PeerMemory.memosPerPeer + 4)).map { _ in peers.takeMemo(for: "127.0.0.1", generation: 1) }
        XCTAssertEqual(Set(open.map(ObjectIdentifier.init)).count, open.count, "open connections never share a memory")
        for memo in open {
            memo.template = template
            peers.keep(memo, for: "127.0.0.1", generation: 1)
        }
        let next = (0..<(PeerMemory.memosPerPeer + 4)).map { _ in peers.takeMemo(for: "127.0.0.1", generation: 1) }
        let kept = next.filter { memo in open.contains { $0 === memo } }
        XCTAssertEqual(kept.count, PeerMemory.memosPerPeer, "as many as the bound are taken over, each once")
        XCTAssertEqual(Set(kept.map(ObjectIdentifier.init)).count, kept.count)
        XCTAssertNil(try XCTUnwrap(next.last).template, "past the bound a connection starts afresh")
        XCTAssertNil(peers.takeMemo(for: "127.0.0.2", generation: 1).template, "another address has none of them")
    }

    static func storage(ipv4 text: String, port: UInt16) -> sockaddr_storage {
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = port.bigEndian
        _ = inet_pton(AF_INET, text, &address.sin_addr)
        return storage(holding: address)
    }

    static func storage(ipv6 text: String, port: UInt16) -> sockaddr_storage {
        var address = sockaddr_in6()
        address.sin6_family = sa_family_t(AF_INET6)
        address.sin6_port = port.bigEndian
        _ = inet_pton(AF_INET6, text, &address.sin6_addr)
        return storage(holding: address)
    }

    /// What `accept` fills in: the address at the start of a `sockaddr_storage`.
    static func storage<Address>(holding address: Address) -> sockaddr_storage {
        var storage = sockaddr_storage()
        withUnsafeMutableBytes(of: &storage) { raw in withUnsafeBytes(of: address) { raw.copyMemory(from: $0) } }
        return storage
    }
}

private final class LockedList: @unchecked Sendable {
    private let lock = NSLock()
    private var items: [Int] = []
    func append(_ item: Int) { lock.withLock { items.append(item) } }
    var values: [Int] { lock.withLock { items } }
}
