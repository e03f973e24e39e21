import Foundation
import NIOConcurrencyHelpers
import PyRPCClient
import PyRPCServer
import PyRPCWire
import XCTest

/// Framing, connection modes and malformed input (SPEC §2), over real TCP.
final class ProtocolTests: XCTestCase {
    var network: TestNetwork!

    override func setUp() async throws {
        var options = ServerOptions()
        options.maxMessageBytes = 64 * 1024
        network = try await Fixtures.start(options: options)
    }

    override func tearDown() async throws {
        await network?.stop()
    }

    private let add = requestLine(arguments: [2, 3], types: ["int", "int"], returns: ["int"], id: 7)

    func testOneShotWithHalfCloseAndNoNewline() throws {
        let socket = try network.socket()
        defer { socket.close() }
        try socket.send(add)  // no newline: the half-close ends the message
        socket.shutdownWrite()
        XCTAssertEqual(try socket.readLine(), #"{"header":"RPC-RES","value":{"return-values":[5],"id":7}}"#)
        XCTAssertTrue(try socket.readsEOF(), "the server closes after answering a one-shot request")
    }

    /// One-shot clients from one address, eight at a time, each connection with another
    /// request: every answer is its own request's, though the connections pass their request
    /// memories on to the next ones from the address (`PeerMemory`), several at once.
    func testConcurrentOneShotClientsFromOneAddressGetTheirOwnAnswers() throws {
        enum Expect { case value(JSONValue), exception(String) }
        @Sendable func request(_ round: Int) -> (String, Expect) {
            switch round % 4 {
            case 0: (requestLine(arguments: [.int(round), 1], types: ["int", "int"], returns: ["int"], id: .int(round)), .value(.int(round + 1)))
            case 1: (requestLine(arguments: [.float(Double(round)), 0.5], types: ["float", "float"], returns: ["float"], client: "c2", id: .int(round)),
                     .value(.float(Double(round) + 0.5)))
            case 2: (requestLine(service: "types", rpc: "pair", arguments: [.int(round)], types: ["int"], returns: ["int", "str"], id: .int(round)),
                     .value(.int(round * 2)))
            default: (requestLine(service: "types", rpc: "pair", arguments: [.int(round)], types: ["int"], returns: ["int", "str"], client: "c2", id: .int(round)),
                      .exception("Client Not Registered"))
            }
        }
        let failures = NIOLockedValueBox<[String]>([])
        let network = try XCTUnwrap(network)
        DispatchQueue.concurrentPerform(iterations: 8) { worker in
            for call in 0..<40 {
                let round = worker * 40 + call + worker  // each worker starts at another kind
                let (line, expected) = request(round)
                do {
                    let socket = try network.socket()
                    defer { socket.close() }
                    try socket.send(line)
                    socket.shutdownWrite()
                    let answer = try JSONParser.parse(socket.readLine())
                    let right: Bool
                    switch expected {
                    case .value(let value): right = answer.returnValues?.first == value && answer["value"]?["id"] == .int(round)
                    case .exception(let type): right = answer.exceptionType == type
                    }
                    if !right { failures.withLockedValue { $0.append("round \(round): \(answer)") } }
                } catch {
                    failures.withLockedValue { $0.append("round \(round): \(error)") }
                }
            }
        }
        XCTAssertEqual(failures.withLockedValue { $0 }, [])
    }

    func testOneShotWithNewlineAndHalfClose() throws {
        let socket = try network.socket()
        defer { socket.close() }
        try socket.send(add + "\n")
        socket.shutdownWrite()
        XCTAssertEqual(try JSONParser.parse(socket.readLine()).returnValues, [5])
        XCTAssertTrue(try socket.readsEOF())
    }

    func testPersistentConnectionServesManyRequests() throws {
        let socket = try network.socket()
        defer { socket.close() }
        for n in 0..<20 {
            try socket.send(requestLine(arguments: [.int(n), 1], types: ["int", "int"], returns: ["int"], id: .int(n)) + "\n")
            let answer = try JSONParser.parse(socket.readLine())
            XCTAssertEqual(answer.returnValues, [.int(n + 1)])
            XCTAssertEqual(answer["value"]?["id"], .int(n))
        }
    }

    func testTwoHundredPipelinedRequestsAnswerInOrder() throws {
        let socket = try network.socket()
        defer { socket.close() }
        // Mix fast calls with slow ones so answers finish out of order inside the server.
        var lines: [String] = []
        for n in 0..<200 {
            if n % 50 == 10 {
                lines.append(requestLine(service: "demo", rpc: "nap", arguments: [0.05], types: ["float"], returns: ["float"], id: .int(n)))
            } else {
                lines.append(requestLine(arguments: [.int(n), .int(n)], types: ["int", "int"], returns: ["int"], id: .int(n)))
            }
        }
        try socket.send(lines.joined(separator: "\n") + "\n")
        for n in 0..<200 {
            let answer = try JSONParser.parse(socket.readLine())
            XCTAssertEqual(answer["value"]?["id"], .int(n))
            XCTAssertEqual(answer.returnValues, n % 50 == 10 ? [0.05] : [.int(2 * n)])
        }
    }

    /// Many connections at once, each pipelining: answers batched across connections and
    /// event-loop cycles must each reach their own connection, in order, with the right value.
    func testManyPipelinedConnectionsEachGetTheirOwnAnswersInOrder() throws {
        let connections = 16, perConnection = 50  // 800 calls: under the default limit of 1,024 waiting
        let sockets = try (0..<connections).map { _ in try network.socket() }
        defer { for socket in sockets { socket.close() } }
        func expected(_ c: Int, _ n: Int) -> [JSONValue] { n % 20 == 7 ? [0.01] : [.int(c * 1000 + n + c)] }
        // Everything is sent before anything is read: all 800 calls are in flight together.
        for (c, socket) in sockets.enumerated() {
            var lines: [String] = []
            for n in 0..<perConnection {
                let id = c * 1000 + n
                if n % 20 == 7 {
                    lines.append(requestLine(service: "demo", rpc: "nap", arguments: [0.01], types: ["float"], returns: ["float"], id: .int(id)))
                } else {
                    lines.append(requestLine(arguments: [.int(id), .int(c)], types: ["int", "int"], returns: ["int"], id: .int(id)))
                }
            }
            try socket.send(lines.joined(separator: "\n") + "\n")
        }
        for (c, socket) in sockets.enumerated() {
            for n in 0..<perConnection {
                let answer = try JSONParser.parse(socket.readLine())
                XCTAssertEqual(answer["value"]?["id"], .int(c * 1000 + n), "connection \(c)")
                XCTAssertEqual(answer.returnValues, expected(c, n), "connection \(c) answer \(n)")
            }
        }
    }

    func testMessageSplitAcrossWrites() throws {
        let socket = try network.socket()
        defer { socket.close() }
        let bytes = Array((add + "\n").utf8)
        for chunk in stride(from: 0, to: bytes.count, by: 7) {
            try socket.send(Array(bytes[chunk..<min(chunk + 7, bytes.count)]))
            usleep(1000)
        }
        XCTAssertEqual(try JSONParser.parse(socket.readLine()).returnValues, [5])
    }

    func testMalformedInputIsABadRequestAndTheConnectionKeepsWorking() throws {
        let socket = try network.socket()
        defer { socket.close() }
        let cases: [(String, String)] = [
            ("this is not json", "not valid JSON"),
            ("[1, 2, 3]", "must be a JSON object"),
            (#"{"header": "HELLO", "value": {}}"#, "unknown header 'HELLO'"),
            (#"{"value": {}}"#, "missing field 'header'"),
            (#"{"header": "RPC-REQ"}"#, "missing field 'value'"),
            (#"{"header": "RPC-REQ", "value": {"service": "calc", "rpc": "add", "arguments": [1, 2], "return-types": ["int"]}}"#, "missing field 'argument-types'"),
            (#"{"header": "RPC-REQ", "value": {"service": "calc", "arguments": [1], "argument-types": ["int"], "return-types": ["int"]}}"#, "missing field 'rpc'"),
            (#"{"header": "RPC-REQ", "value": {"service": "calc", "rpc": "add", "arguments": 5, "argument-types": [], "return-types": []}}"#, "'arguments' must be a list"),
            (#"{"header": "RPC-REQ", "value": {"service": 5, "rpc": "add", "arguments": [], "argument-types": [], "return-types": []}}"#, "'service' must be a string"),
            ("{\"header\": \"RPC-REQ\", \"value\": {\"service\": \"\u{FFFD}", "not valid JSON"),
        ]
        for (line, expected) in cases {
            try socket.send(line + "\n")
            let answer = try JSONParser.parse(socket.readLine())
            XCTAssertEqual(answer.exceptionType, "Bad Request", line)
            XCTAssertTrue(answer.exceptionMessage?.contains(expected) ?? false, "\(line) → \(answer.exceptionMessage ?? "nil")")
            try socket.send(add + "\n")
            XCTAssertEqual(try JSONParser.parse(socket.readLine()).returnValues, [5], "still serving after: \(line)")
        }
    }

    func testInvalidUTF8IsABadRequest() throws {
        let socket = try network.socket()
        defer { socket.close() }
        try socket.send(Array(#"{"header":"RPC-REQ","value":{"service":""#.utf8) + [0xFF, 0xFE] + Array("\"}}\n".utf8))
        XCTAssertEqual(try JSONParser.parse(socket.readLine()).exceptionType, "Bad Request")
    }

    func testOversizeMessageIsABadRequestAndSkipped() throws {
        let socket = try network.socket()
        defer { socket.close() }
        let huge = requestLine(service: "types", rpc: "same_str", arguments: [.string(String(repeating: "x", count: 200_000))], types: ["str"], returns: ["str"])
        try socket.send(huge + "\n" + add + "\n")
        let first = try JSONParser.parse(socket.readLine())
        XCTAssertEqual(first.exceptionType, "Bad Request")
        XCTAssertTrue(first.exceptionMessage!.contains("65536 bytes"), first.exceptionMessage!)
        XCTAssertEqual(try JSONParser.parse(socket.readLine()).returnValues, [5])
    }

    func testTypeIsAnAliasOfHeaderAndUnknownKeysAreIgnored() throws {
        let line = #"{"type": "RPC-REQ", "extra": 1, "value": {"client": "c1", "service": "calc", "rpc": "add", "arguments": [1, 2], "argument-types": ["int", "int"], "return-types": ["int"], "id": "abc", "note": "x"}}"#
        let answer = try network.roundTrip(line)
        XCTAssertEqual(answer.returnValues, [3])
        XCTAssertEqual(answer["value"]?["id"], "abc")
    }

    func testBlockingCallsOverlap() async throws {
        // Four connections (non-blocking clients, so the test itself never serializes them).
        let clients = (0..<4).map { _ in network.client() }
        defer { clients.forEach { $0.close() } }
        let started = Date()
        try await withThrowingTaskGroup(of: Double.self) { group in
            for client in clients {
                group.addTask { try await client.call("demo", "nap", 1.0) as Double }
            }
            for try await slept in group { XCTAssertEqual(slept, 1.0) }
        }
        let elapsed = Date().timeIntervalSince(started)
        XCTAssertLessThan(elapsed, 1.9, "four 1 s sleeps must overlap")
    }

    func testTypedAsyncAndBlockingClients() async throws {
        let client = network.client()
        defer { client.close() }
        let sum: Int = try await client.call("calc", "add", 2, 3)
        XCTAssertEqual(sum, 5)
        let floatSum: Double = try await client.call("calc", "add", 2.5, 0.25)
        XCTAssertEqual(floatSum, 2.75)
        let grid: [[Double]] = try await client.call("types", "same_grid", [[1.0, 2.0], [3.0]])
        XCTAssertEqual(grid, [[1.0, 2.0], [3.0]])
        do {
            let _: Int = try await client.call("calc", "add", "a", "b")
            XCTFail("expected Invalid Arguments")
        } catch {
            guard case .rpc(let rpcError) = error else { return XCTFail("\(error)") }
            XCTAssertEqual(rpcError.type, .invalidArguments)
        }
        let port = network.port
        let blockingSum: Int = try await Task.detached {
            let blocking = BlockingRPCClient(host: "127.0.0.1", port: port, client: "c1")
            defer { blocking.close() }
            return try blocking.call("calc", "add", 40, 2) as Int
        }.value
        XCTAssertEqual(blockingSum, 42)
    }

    func testConcurrentCallsShareOneConnection() async throws {
        let client = network.client()
        defer { client.close() }
        try await withThrowingTaskGroup(of: (Int, Int).self) { group in
            for n in 0..<100 {
                group.addTask { (n, try await client.call("calc", "add", n, 1000) as Int) }
            }
            for try await (n, sum) in group { XCTAssertEqual(sum, n + 1000) }
        }
    }

    func testIPv6() async throws {
        let yaml = """
            network:
              servers:
                - s1: {ip: "::1", port: 8181}
              clients:
                - c1: {ip: "::1"}
            service:
              - calc: {providers: [s1], tenants: [c1], rpcs: [add]}
            rpc:
              - add: {args: [int, int], returns: [int], src: add.py}
            """
        let v6 = try await TestNetwork.start(yaml: yaml, scripts: ["add.py": "def add(a, b):\n    return a + b\n"], host: "::1")
        defer { Task { await v6.stop() } }
        let answer = try v6.roundTrip(requestLine(arguments: [20, 22], types: ["int", "int"], returns: ["int"]))
        XCTAssertEqual(answer.returnValues, [42])
        // Identified by address alone when it is the only client there.
        let anonymous = try v6.roundTrip(requestLine(arguments: [1, 1], types: ["int", "int"], returns: ["int"], client: nil))
        XCTAssertEqual(anonymous.returnValues, [2])
    }

    func testListAndStatsMessages() async throws {
        _ = try network.roundTrip(add)
        let client = network.client()
        defer { client.close() }
        let listing = try await client.send(Envelope(header: Header.listRequest, value: [:]).encoded())
        XCTAssertEqual(listing.header, "LS-RES")
        XCTAssertEqual(listing.value["generation"], 1)
        let rpcs = listing.value["rpcs"]?.arrayValue ?? []
        XCTAssertEqual(rpcs.count, 21)
        XCTAssertEqual(rpcs.first?["args"], ["int", "int"])
        XCTAssertEqual(rpcs.first?["hash"]?.stringValue, ScriptHash.sha256(Fixtures.scripts["calc/add.py"]!))
        let stats = try await client.send(Envelope(header: Header.statsRequest, value: [:]).encoded())
        let add = stats.value["rpcs"]?.arrayValue?.first
        XCTAssertEqual(add?["calls"], 1)
        XCTAssertNotNil(add?["p50_ms"]?.numberValue)
    }
}

