@testable import PyRPCServer
import PyRPCWire
import XCTest

/// Every RPC-EX type over real TCP, with its message, and the order of the checks.
final class ExceptionTests: XCTestCase {
    var network: TestNetwork!

    override func setUp() async throws {
        network = try await Fixtures.start()
    }

    override func tearDown() async throws {
        await network?.stop()
    }

    func testServiceNotFound() throws {
        let answer = try network.roundTrip(requestLine(service: "nope", arguments: [1, 2], types: ["int", "int"], returns: ["int"], id: 3))
        XCTAssertEqual(answer.header, "RPC-EX")
        XCTAssertEqual(answer.exceptionType, "Service Not Found")
        XCTAssertEqual(answer["value"]?["id"], 3)
        XCTAssertTrue(answer.exceptionMessage!.contains("calc, types, demo"), answer.exceptionMessage!)
    }

    func testRPCNotFound() throws {
        let answer = try network.roundTrip(requestLine(rpc: "mul", arguments: [1, 2], types: ["int", "int"], returns: ["int"]))
        XCTAssertEqual(answer.exceptionType, "RPC Not Found")
        XCTAssertEqual(answer.exceptionMessage, "service 'calc' has no rpc 'mul'; it has add")
    }

    func testUnknownClientIsNotRegistered() throws {
        let answer = try network.roundTrip(requestLine(arguments: [1, 2], types: ["int", "int"], returns: ["int"], client: "mallory"))
        XCTAssertEqual(answer.exceptionType, "Client Not Registered")
        XCTAssertTrue(answer.exceptionMessage!.contains("may not access service 'calc'"), answer.exceptionMessage!)
    }

    func testClientThatIsNotATenantIsRefused() throws {
        let answer = try network.roundTrip(requestLine(service: "types", rpc: "same_int", arguments: [1], types: ["int"], returns: ["int"], client: "c2"))
        XCTAssertEqual(answer.exceptionType, "Client Not Registered")
        XCTAssertEqual(answer.exceptionMessage, "client 'c2' may not access service 'types': it is not one of its tenants")
    }

    func testClientFromAnotherAddressIsRefused() throws {
        // `far` is declared at 127.0.0.2; this connection comes from 127.0.0.1.
        let answer = try network.roundTrip(requestLine(arguments: [1, 2], types: ["int", "int"], returns: ["int"], client: "far"))
        XCTAssertEqual(answer.exceptionType, "Client Not Registered")
        XCTAssertTrue(answer.exceptionMessage!.contains("from 127.0.0.1"), answer.exceptionMessage!)
    }

    func testClientFromItsDeclaredAddressIsServed() throws {
        let socket = try network.socket(from: "127.0.0.2")
        defer { socket.close() }
        try socket.send(requestLine(arguments: [1, 2], types: ["int", "int"], returns: ["int"], client: "far") + "\n")
        XCTAssertEqual(try JSONParser.parse(socket.readLine()).returnValues, [3])
        // Without a client name, the only client declared at 127.0.0.2 is recognised.
        try socket.send(requestLine(arguments: [4, 5], types: ["int", "int"], returns: ["int"], client: nil) + "\n")
        XCTAssertEqual(try JSONParser.parse(socket.readLine()).returnValues, [9])
    }

    func testOneShotClientsAreIdentifiedByTheirOwnAddress() throws {
        // A new connection takes over the request memory the last one from its address left
        // (a one-shot client's request is then read by difference and its dispatch reused);
        // the same bytes from another address must be judged afresh.
        func oneShot(_ line: String, from address: String) throws -> JSONValue {
            let socket = try network.socket(from: address)
            defer { socket.close() }
            try socket.send(line)
            socket.shutdownWrite()
            let answer = try JSONParser.parse(socket.readLine())
            XCTAssertTrue(try socket.readsEOF(), "one-shot: the server closes once it answered")
            return answer
        }
        for round in 0..<4 {
            let line = requestLine(arguments: [.int(round), 2], types: ["int", "int"], returns: ["int"], client: "far", id: .int(round))
            let far = try oneShot(line, from: "127.0.0.2")
            XCTAssertEqual(far.returnValues, [.int(round + 2)])
            XCTAssertEqual(far["value"]?["id"], .int(round))
            let near = try oneShot(line, from: "127.0.0.1")
            XCTAssertEqual(near.exceptionType, "Client Not Registered", "round \(round)")
            XCTAssertTrue(near.exceptionMessage?.contains("from 127.0.0.1") ?? false, near.exceptionMessage ?? "")
            // Without a name: `far` at 127.0.0.2, nobody in particular at 127.0.0.1.
            let unnamed = requestLine(arguments: [1, .int(round)], types: ["int", "int"], returns: ["int"], client: nil)
            XCTAssertEqual(try oneShot(unnamed, from: "127.0.0.2").returnValues, [.int(round + 1)])
            XCTAssertEqual(try oneShot(unnamed, from: "127.0.0.1").exceptionType, "Client Not Registered")
        }
    }

    func testMissingClientFromSharedAddressIsRefused() throws {
        let answer = try network.roundTrip(requestLine(arguments: [1, 2], types: ["int", "int"], returns: ["int"], client: nil))
        XCTAssertEqual(answer.exceptionType, "Client Not Registered")
        XCTAssertTrue(answer.exceptionMessage!.contains("c1, c2"), answer.exceptionMessage!)
    }

    func testInvalidArgumentsListsEverySignature() throws {
        let answer = try network.roundTrip(requestLine(arguments: ["a", "b"], types: ["str", "str"], returns: ["str"]))
        XCTAssertEqual(answer.exceptionType, "Invalid Arguments")
        XCTAssertEqual(
            answer.exceptionMessage,
            "no overload of calc.add is (str, str) -> (str); calc.add accepts (int, int) -> (int) or (float, float) -> (float)")
    }

    func testValueThatDoesNotFitItsTypeIsInvalid() throws {
        let answer = try network.roundTrip(requestLine(arguments: [1, "x"], types: ["int", "int"], returns: ["int"]))
        XCTAssertEqual(answer.exceptionType, "Invalid Arguments")
        XCTAssertTrue(answer.exceptionMessage!.hasPrefix("argument 2 is a string \"x\", expected int;"), answer.exceptionMessage!)
        XCTAssertTrue(answer.exceptionMessage!.hasSuffix("calc.add accepts (int, int) -> (int) or (float, float) -> (float)"))
    }

    func testWrongArgumentCountIsInvalid() throws {
        let answer = try network.roundTrip(requestLine(arguments: [1, 2, 3], types: ["int", "int"], returns: ["int"]))
        XCTAssertEqual(answer.exceptionType, "Invalid Arguments")
        XCTAssertTrue(answer.exceptionMessage!.hasPrefix("3 arguments sent for 2 argument types"), answer.exceptionMessage!)
    }

    func testUnknownTypeNameIsInvalidArguments() throws {
        let answer = try network.roundTrip(requestLine(arguments: [1, 2], types: ["integer", "int"], returns: ["int"]))
        XCTAssertEqual(answer.exceptionType, "Invalid Arguments")
        XCTAssertTrue(answer.exceptionMessage!.contains("unknown type 'integer'"), answer.exceptionMessage!)
    }

    func testChecksRunInCourseOrder() throws {
        // Everything wrong: the service is reported first.
        var answer = try network.roundTrip(requestLine(service: "nope", rpc: "nope", arguments: ["x"], types: ["bogus"], returns: [], client: "mallory"))
        XCTAssertEqual(answer.exceptionType, "Service Not Found")
        // Service right: the rpc next.
        answer = try network.roundTrip(requestLine(rpc: "nope", arguments: ["x"], types: ["bogus"], returns: [], client: "mallory"))
        XCTAssertEqual(answer.exceptionType, "RPC Not Found")
        // Rpc right: the client next, before the arguments.
        answer = try network.roundTrip(requestLine(arguments: ["x"], types: ["bogus"], returns: [], client: "mallory"))
        XCTAssertEqual(answer.exceptionType, "Client Not Registered")
        // Client right: the arguments.
        answer = try network.roundTrip(requestLine(arguments: ["x"], types: ["bogus"], returns: []))
        XCTAssertEqual(answer.exceptionType, "Invalid Arguments")
    }

    func testPythonExceptionIsExecutionException() throws {
        let answer = try network.roundTrip(requestLine(service: "demo", rpc: "divide", arguments: [1, 0], types: ["float", "float"], returns: ["float"]))
        XCTAssertEqual(answer.exceptionType, "Execution Exception")
        XCTAssertEqual(answer.exceptionMessage, "ZeroDivisionError: float division by zero")
    }

    func testSystemExitIsCaughtAndServerKeepsServing() throws {
        let answer = try network.roundTrip(requestLine(service: "demo", rpc: "leave", arguments: [3], types: ["int"], returns: ["int"]))
        XCTAssertEqual(answer.exceptionType, "Execution Exception")
        XCTAssertEqual(answer.exceptionMessage, "SystemExit: 3")
        let next = try network.roundTrip(requestLine(arguments: [2, 3], types: ["int", "int"], returns: ["int"]))
        XCTAssertEqual(next.returnValues, [5])
    }

    func testKeyboardInterruptIsCaught() throws {
        let answer = try network.roundTrip(requestLine(service: "demo", rpc: "interrupt", arguments: [], types: [], returns: ["int"]))
        XCTAssertEqual(answer.exceptionType, "Execution Exception")
        XCTAssertEqual(answer.exceptionMessage, "KeyboardInterrupt")
    }

    func testReturnValueOfTheWrongTypeIsExecutionException() throws {
        let answer = try network.roundTrip(requestLine(service: "types", rpc: "wrong", arguments: [], types: [], returns: ["int"]))
        XCTAssertEqual(answer.exceptionType, "Execution Exception")
        XCTAssertTrue(answer.exceptionMessage!.contains("the return value is str 'not an int', expected int"), answer.exceptionMessage!)
    }

    func testInfiniteLoopIsStoppedByItsTimeout() throws {
        let started = Date()
        let answer = try network.roundTrip(requestLine(service: "demo", rpc: "spin", arguments: [], types: [], returns: ["int"]))
        XCTAssertEqual(answer.exceptionType, "Timeout")
        XCTAssertEqual(answer.exceptionMessage, "demo.spin ran past its time limit of 1 s and was interrupted")
        XCTAssertLessThan(Date().timeIntervalSince(started), 5)
        // The worker was freed: the server still answers every worker's worth of calls.
        for _ in 0..<10 {
            XCTAssertEqual(try network.roundTrip(requestLine(arguments: [1, 1], types: ["int", "int"], returns: ["int"])).returnValues, [2])
        }
    }

    func testLoopSwallowingExceptionsIsStillInterrupted() throws {
        let answer = try network.roundTrip(requestLine(service: "demo", rpc: "stubborn", arguments: [], types: [], returns: ["int"]))
        XCTAssertEqual(answer.exceptionType, "Timeout")
        // It was really stopped (not left spinning): a CPU-bound loop holding the GIL would
        // make this next call wait for the switch interval each time, but it must complete.
        XCTAssertEqual(try network.roundTrip(requestLine(arguments: [1, 1], types: ["int", "int"], returns: ["int"])).returnValues, [2])
    }

    func testRequestTimeoutShortensTheLimit() throws {
        let answer = try network.roundTrip(requestLine(service: "demo", rpc: "nap", arguments: [3], types: ["float"], returns: ["float"], timeout: 0.3))
        XCTAssertEqual(answer.exceptionType, "Timeout")
        XCTAssertTrue(answer.exceptionMessage!.contains("0.3 s"), answer.exceptionMessage!)
    }

    func testServerBusyWhenTheQueueIsFull() async throws {
        await network.stop()
        var options = network.server.options
        options.pythonWorkers = 1
        options.maxPendingCalls = 1
        network = try await Fixtures.start(options: options)
        let socket = try network.socket()
        defer { socket.close() }
        let nap = requestLine(service: "demo", rpc: "nap", arguments: [1.0], types: ["float"], returns: ["float"])
        // One runs, one waits in the queue, the third is refused at once. The first is sent
        // right after the start: the release of the server's empty first generation may still
        // be queued then (a few milliseconds on a busy machine), and as housekeeping it must
        // not take the one place for calls (`WorkerPoolTests.testForcedJobsTakeNoRoomFromCalls`).
        try socket.send(nap + "\n")
        try await waitForPool(running: 1)
        try socket.send([nap, nap].joined(separator: "\n") + "\n")
        let answers = try (0..<3).map { _ in try JSONParser.parse(socket.readLine()) }
        XCTAssertEqual(answers[0].returnValues, [1.0], answers.map(\.jsonText).joined(separator: " / "))
        XCTAssertEqual(answers[1].returnValues, [1.0], answers.map(\.jsonText).joined(separator: " / "))
        XCTAssertEqual(answers[2].exceptionType, "Server Busy")
        XCTAssertTrue(answers[2].exceptionMessage?.contains("has 1 call waiting for Python (--max-pending); retry") ?? false, answers[2].jsonText)
    }

    /// Waits until no job waits for the server's Python workers and `running` calls are in
    /// flight (a call counts from when it is read until it is answered).
    private func waitForPool(running: Int, file: StaticString = #filePath, line: UInt = #line) async throws {
        let core = network.server.core
        let deadline = ContinuousClock.now + .seconds(10)
        while core.pool.pendingCount > 0 || core.registry.current.callsInFlight != running {
            guard ContinuousClock.now < deadline else {
                return XCTFail("the pool still has \(core.pool.pendingCount) jobs waiting, \(core.registry.current.callsInFlight) calls in flight", file: file, line: line)
            }
            try await Task.sleep(for: .milliseconds(5))
        }
    }
}
