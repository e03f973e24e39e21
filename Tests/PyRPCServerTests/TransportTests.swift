import Foundation
import PyRPCServer
import PyRPCWire
import XCTest

/// The server's own epoll transport over real TCP: calls run on the thread that read them,
/// so what must still hold is that a slow call never holds up other connections, answers go
/// to the right connection, big answers reach slow readers whole, and stop closes everything.
final class TransportTests: XCTestCase {
    var network: TestNetwork!

    override func setUp() async throws {
        network = try await Fixtures.start()
    }

    override func tearDown() async throws {
        await network?.stop()
    }

    private func add(_ a: Int, _ b: Int, id: JSONValue) -> String {
        requestLine(arguments: [.int(a), .int(b)], types: ["int", "int"], returns: ["int"], id: id)
    }

    private func nap(_ seconds: Double, id: JSONValue) -> String {
        requestLine(service: "demo", rpc: "nap", arguments: [.float(seconds)], types: ["float"], returns: ["float"], id: id)
    }

    func testQuickCallIsNotHeldUpByASleepingOne() throws {
        let sleeper = try network.socket()
        defer { sleeper.close() }
        try sleeper.send(nap(1.0, id: "nap") + "\n")
        Thread.sleep(forTimeInterval: 0.05)  // the nap is running on the thread that read it
        let quick = try network.socket()
        defer { quick.close() }
        let started = Date()
        try quick.send(add(2, 3, id: "add") + "\n")
        let answer = try JSONParser.parse(try quick.readLine())
        let waited = Date().timeIntervalSince(started)
        XCTAssertEqual(answer.returnValues, [5])
        XCTAssertLessThan(waited, 0.5, "another thread must take over the sockets while the nap runs")
        let napped = try JSONParser.parse(try sleeper.readLine())
        XCTAssertEqual(napped.returnValues, [1.0])
        XCTAssertEqual(napped["value"]?["id"], "nap")
    }

    /// Under steady traffic the pool's monitor looks only every few milliseconds (`TickPace`),
    /// yet a call that sleeps still hands the sockets over: the steady connection's calls go
    /// on being answered, each within milliseconds, while the nap runs.
    func testSteadyTrafficFlowsOnWhileACallSleeps() throws {
        let steady = try network.socket()
        defer { steady.close() }
        func call(_ number: Int) throws -> Double {
            let sent = Date()
            try steady.send(add(number, 1, id: .int(number)) + "\n")
            XCTAssertEqual(try JSONParser.parse(try steady.readLine()).returnValues, [.int(number + 1)])
            return Date().timeIntervalSince(sent)
        }
        // Steady traffic first, so that the monitor's looks have spread out.
        for number in 0..<500 { _ = try call(number) }
        let sleeper = try network.socket()
        defer { sleeper.close() }
        try sleeper.send(nap(0.8, id: "nap") + "\n")
        var slowest = 0.0
        var number = 500
        let napStarted = Date()
        while Date().timeIntervalSince(napStarted) < 0.5 {
            slowest = max(slowest, try call(number))
            number += 1
        }
        XCTAssertLessThan(slowest, 0.3, "a call waited \(slowest) s while the nap ran: the sockets were not handed over")
        let napped = try JSONParser.parse(try sleeper.readLine())
        XCTAssertEqual(napped.returnValues, [0.8])
    }

    func testManySleepingCallsStillLetNewConnectionsIn() throws {
        let sleepers = try (0..<6).map { index in
            let socket = try network.socket()
            try socket.send(nap(0.8, id: .int(index)) + "\n")
            return socket
        }
        defer { sleepers.forEach { $0.close() } }
        Thread.sleep(forTimeInterval: 0.1)
        let started = Date()
        let answer = try network.roundTrip(add(20, 22, id: 1))
        XCTAssertEqual(answer.returnValues, [42])
        XCTAssertLessThan(Date().timeIntervalSince(started), 0.5)
        for (index, socket) in sleepers.enumerated() {
            let napped = try JSONParser.parse(try socket.readLine())
            XCTAssertEqual(napped["value"]?["id"], .int(index))
            XCTAssertEqual(napped.returnValues, [0.8])
        }
    }

    func testAnswerForAClosedConnectionNeverReachesANewOne() throws {
        let leaving = try network.socket()
        try leaving.send(nap(0.3, id: "for the one who left") + "\n")
        Thread.sleep(forTimeInterval: 0.05)
        leaving.reset()  // the server closes its side at once, with the nap still running
        Thread.sleep(forTimeInterval: 0.05)
        // Very likely gets the same descriptor on the server as the one that left.
        // Its first call is still running when the old nap ends, so a misrouted answer would
        // be taken for its own.
        let next = try RawSocket(host: network.host, port: network.port, timeout: 1)
        defer { next.close() }
        try next.send(nap(0.5, id: "mine") + "\n")
        let answer = try JSONParser.parse(try next.readLine())
        XCTAssertEqual(answer["value"]?["id"], "mine")
        XCTAssertEqual(answer.returnValues, [0.5])
        XCTAssertThrowsError(try next.readLine(), "the nap's answer must be dropped, not sent to the new connection")
        XCTAssertEqual(try network.roundTrip(add(2, 2, id: 2)).returnValues, [4], "the server keeps serving")
    }

    func testBigAnswersReachASlowReaderWhole() throws {
        let text = String(repeating: "0123456789abcdef", count: 3 << 16)  // 3 MiB
        let request = requestLine(service: "types", rpc: "same_str", arguments: [.string(text)], types: ["str"], returns: ["str"], id: 1)
        let socket = try network.socket()
        defer { socket.close() }
        // Three requests before reading anything: the answers (9 MiB) overflow the socket
        // buffers, and the server must wait until it can write more.
        for _ in 0..<3 { try socket.send(request + "\n") }
        Thread.sleep(forTimeInterval: 0.3)
        for _ in 0..<3 {
            let answer = try JSONParser.parse(try socket.readLine())
            XCTAssertEqual(answer.returnValues, [.string(text)])
        }
        XCTAssertEqual(try network.roundTrip(add(1, 1, id: 1)).returnValues, [2])
    }

    func testLongPipelineOnOneConnectionIsNotRefusedAsBusy() async throws {
        // 3,000 requests in one write, thirty times the call queue: the server takes them a
        // turn at a time, so none is answered Server Busy.
        var options = ServerOptions()
        options.maxPendingCalls = 100
        let small = try await Fixtures.start(options: options)
        defer { Task { await small.stop() } }
        let socket = try small.socket()
        defer { socket.close() }
        let count = 3000
        try socket.send((0..<count).map { add($0, $0, id: .int($0)) + "\n" }.joined())
        for index in 0..<count {
            let answer = try JSONParser.parse(try socket.readLine())
            guard answer["value"]?["id"] == .int(index), answer.returnValues == [.int(2 * index)] else {
                return XCTFail("answer \(index): \(answer)")
            }
        }
    }

    func testClientThatNeverReadsIsThrottledAndLosesNothing() throws {
        let socket = try network.socket()
        defer { socket.close() }
        // Pipeline 64 KiB echoes without reading a single answer. The server must stop
        // reading once its unwritten answers pass its limit (1 MiB), so our sends block;
        // without the limit it would hold every answer for as long as we send.
        let text = String(repeating: "pyrpc-64", count: 8 << 10)
        var stream: [UInt8] = []
        var sent = 0
        var blockedSince: Date?
        let cap = 64 << 20
        while sent < cap {
            if sent == stream.count {
                let request = requestLine(service: "types", rpc: "same_str", arguments: [.string(text)], types: ["str"], returns: ["str"], id: .int(stream.count))
                stream += Array((request + "\n").utf8)
                continue
            }
            let written = try socket.sendWithoutWaiting(stream[sent...])
            sent += written
            if written > 0 {
                blockedSince = nil
            } else if let since = blockedSince {
                if Date().timeIntervalSince(since) > 1.0 { break }
                Thread.sleep(forTimeInterval: 0.01)
            } else {
                blockedSince = Date()
            }
        }
        XCTAssertLessThan(sent, cap, "the server kept reading from a client that reads nothing")
        // Every complete request sent is answered, in order, once we read. (The rest of the
        // last one stays unsent: the server reads nothing more until we read.)
        let complete = stream[..<sent].filter { $0 == UInt8(ascii: "\n") }.count
        XCTAssertGreaterThan(complete, 10)
        var offset = 0
        for index in 0..<complete {
            let answer = try JSONParser.parse(try socket.readLine())
            guard answer["value"]?["id"] == .int(offset), answer.returnValues == [.string(text)] else {
                return XCTFail("answer \(index) of \(complete) is not the echo of request \(index)")
            }
            offset += stream[offset...].firstIndex(of: UInt8(ascii: "\n"))! + 1 - offset
        }
    }

    func testStopClosesConnectionsAndRefusesNewOnes() async throws {
        let open = try network.socket()
        defer { open.close() }
        XCTAssertEqual(try JSONParser.parse(try { try open.send(add(1, 1, id: 1) + "\n"); return try open.readLine() }()).returnValues, [2])
        let inFlight = try network.socket()
        defer { inFlight.close() }
        try inFlight.send(nap(0.3, id: "late") + "\n")
        try await Task.sleep(for: .milliseconds(50))
        await network.server.stop()
        let answer = try JSONParser.parse(try inFlight.readLine())
        XCTAssertEqual(answer.returnValues, [0.3], "a call in flight is answered before the server stops")
        XCTAssertTrue(try inFlight.readsEOF())
        XCTAssertTrue(try open.readsEOF(), "stop closes idle connections")
        XCTAssertThrowsError(try network.socket(), "a stopped server accepts no connections")
    }

    func testStoppedServersGiveBackTheirDescriptors() async throws {
        func openDescriptors() -> Int {
            (try? FileManager.default.contentsOfDirectory(atPath: "/proc/self/fd").count) ?? 0
        }
        let before = openDescriptors()
        for _ in 0..<5 {
            let server = try PyRPCServer(name: "s9")
            let address = try await server.start(host: "127.0.0.1", port: 0)
            let socket = try RawSocket(host: "127.0.0.1", port: address.port!)
            try socket.send("not json\n")
            XCTAssertTrue(try socket.readLine().contains("Bad Request"))
            await server.stop()
            socket.close()
        }
        try await Task.sleep(for: .milliseconds(200))  // loop threads end after the stop
        XCTAssertLessThan(openDescriptors() - before, 5, "each stopped server must close its epoll, eventfd, spare and listening descriptors")
    }

    func testListeningOnAPortInUseSaysSo() async throws {
        let second = try PyRPCServer(name: "s2")
        do {
            try await second.start(host: "127.0.0.1", port: network.port)
            XCTFail("a second server on the same port must fail")
        } catch {
            XCTAssertTrue("\(error)".contains("Address already in use"), "\(error)")
            XCTAssertTrue("\(error)".contains("127.0.0.1:\(network.port)"), "\(error)")
        }
        await second.stop()
    }
}
