import Foundation
import PyRPCClient
import PyRPCWire
import XCTest

#if canImport(Glibc)
import Glibc
#endif

/// MessagePack on a real `pyrpc serve --processes 2`, chosen per connection by a first byte
/// 0x00: every type both ways and the same as over JSON, every exception type, JSON and
/// MessagePack clients at once, size limits and cut frames, a first byte that chooses
/// nothing, and connections moved between workers by recycling.
final class MessagePackServerTests: ServerProcessTestCase {
    override func setUp() async throws {
        try await super.setUp()
        try writeFiles([
            "init.yaml": """
                network:
                  servers:
                    - s1: {ip: 127.0.0.1, port: \(port)}
                  clients:
                    - c1: {ip: 127.0.0.1}
                    - c2: {ip: 127.0.0.2}
                service:
                  - svc: {providers: [s1], tenants: [c1], rpcs: [same, nested, floats, total, boom, nap, pair, add]}
                rpc:
                  - same: {args: [int], returns: [int], src: m.py}
                  - same: {args: [float], returns: [float], src: m.py}
                  - same: {args: [str], returns: [str], src: m.py}
                  - same: {args: [bool], returns: [bool], src: m.py}
                  - nested: {args: ["List[List[int]]"], returns: ["List[List[int]]"], src: m.py}
                  - floats: {args: ["List[float]"], returns: ["List[float]"], src: m.py}
                  - total: {args: ["List[float]"], returns: [float], src: m.py}
                  - boom: {args: [], returns: [int], src: m.py}
                  - nap: {args: [float], returns: [float], src: m.py}
                  - pair: {args: [int, str], returns: [str, int], src: m.py}
                  - add: {args: [int, int], returns: [int], src: m.py}

                """,
            "m.py": """
                import time

                def same(x):
                    return x

                def nested(x):
                    return x

                def floats(xs):
                    return xs

                def total(xs):
                    return sum(xs)

                def boom():
                    raise ValueError('boom')

                def nap(s):
                    time.sleep(s)
                    return s

                def pair(n, s):
                    return s, n

                def add(a, b):
                    return a + b

                """,
        ], in: folder)
    }

    private func serve(_ extra: [String] = []) throws {
        server = try CLIProcess.start(["serve", "s1", "--state-dir", "state", "--processes", "2"] + extra, in: folder)
        XCTAssertTrue(wait(60) { occurrences(of: " ready (generation") >= 2 }, log)
        XCTAssertEqual(try CLIProcess.run(["deploy"], in: folder).status, 0, log)
    }

    private func values(of answer: JSONValue) -> [JSONValue]? {
        answer["value"]?["return-values"]?.arrayValue
    }

    /// The answer over a JSON connection, as a value.
    /// A MessagePack connection and a JSON one to the server.
    private func bothEncodings() throws -> (packed: MessagePackSocket, plain: RawSocket) {
        (try MessagePackSocket(port: port), try RawSocket(host: "127.0.0.1", port: port))
    }

    private func json(_ line: String) throws -> JSONValue {
        let socket = try RawSocket(host: "127.0.0.1", port: port)
        defer { socket.close() }
        try socket.send(line + "\n")
        return try JSONParser.parse(socket.readLine())
    }

    func testEveryTypeRoundTripsAndMatchesJSON() throws {
        try serve()
        let client = try MessagePackSocket(port: port)
        defer { client.close() }
        let big = "1267650600228229401496703205376"  // 2^100
        let cases: [(rpc: String, value: JSONValue, type: String)] = [
            ("same", .int(0), "int"), ("same", .int(Int.max), "int"), ("same", .int(Int.min), "int"), ("same", .int(-33), "int"),
            ("same", .bigInt(big), "int"), ("same", .bigInt("-" + big), "int"), ("same", .bigInt("18446744073709551615"), "int"),
            ("same", .float(0.1), "float"), ("same", .float(-0.0), "float"), ("same", .float(1e308), "float"),
            ("same", .float(.infinity), "float"), ("same", .float(-.infinity), "float"),
            ("same", .string(""), "str"), ("same", .string("héllo wörld 🌍 \u{0}\n\""), "str"),
            ("same", .bool(true), "bool"), ("same", .bool(false), "bool"),
            ("nested", .array([.array([.int(1), .int(2)]), .array([]), .array([.bigInt(big)])]), "List[List[int]]"),
            ("floats", .array([.float(1.5), .float(-0.0), .float(.infinity), .float(2.5e-300)]), "List[float]"),
            ("floats", .array([]), "List[float]"),
        ]
        for (rpc, value, type) in cases {
            let answer = try client.roundTrip(rpcRequest(rpc: rpc, arguments: [value], types: [type], returns: [type], id: .int(9)))
            XCTAssertEqual(answer["header"], .string("RPC-RES"), "\(value): \(answer)")
            XCTAssertEqual(answer["value"]?["id"], .int(9))
            XCTAssertEqual(values(of: answer), [value], "\(rpc)(\(value) as \(type))")
            // The same call over JSON answers the same value (infinities as JSON writes them).
            let overJSON = try json(requestLine(service: "svc", rpc: rpc, arguments: [value], types: [type], returns: [type]))
            XCTAssertEqual(values(of: overJSON), [Self.asJSON(value)], "over JSON: \(rpc)(\(value) as \(type))")
        }
        // NaN travels as a float64, not as the string JSON needs.
        let nan = try client.roundTrip(rpcRequest(rpc: "same", arguments: [.float(.nan)], types: ["float"], returns: ["float"]))
        guard case .float(let back)? = values(of: nan)?.first else { return XCTFail("\(nan)") }
        XCTAssertTrue(back.isNaN)
        // An int stands for a float; several return values; a tuple is two.
        XCTAssertEqual(values(of: try client.roundTrip(rpcRequest(rpc: "total", arguments: [.array([.int(1), .float(2.5)])], types: ["List[float]"], returns: ["float"]))), [.float(3.5)])
        XCTAssertEqual(values(of: try client.roundTrip(rpcRequest(rpc: "pair", arguments: [.int(4), .string("x")], types: ["int", "str"], returns: ["str", "int"]))), [.string("x"), .int(4)])
        // Admin messages answer in MessagePack too.
        let listing = try client.roundTrip(.object(["header": .string(Header.listRequest), "value": .object([:])]))
        XCTAssertEqual(listing["header"], .string("LS-RES"), "\(listing)")
        XCTAssertEqual(listing["value"]?["rpcs"]?.arrayValue?.count, 11)
    }

    /// What JSON carries for `value`: infinities as the strings "inf" and "-inf".
    private static func asJSON(_ value: JSONValue) -> JSONValue {
        switch value {
        case .float(let number) where number.isInfinite: .string(number < 0 ? "-inf" : "inf")
        case .array(let elements): .array(elements.map(asJSON))
        default: value
        }
    }

    func testEveryExceptionTypeOverMessagePack() throws {
        try serve(["--workers", "1", "--max-pending", "1"])
        func exception(_ request: JSONValue) throws -> (type: String?, message: String?) {
            let client = try MessagePackSocket(port: port)
            defer { client.close() }
            let answer = try client.roundTrip(request)
            XCTAssertEqual(answer["header"], .string("RPC-EX"), "\(answer)")
            return (answer["value"]?["exception-type"]?.stringValue, answer["value"]?["exception-message"]?.stringValue)
        }
        XCTAssertEqual(try exception(rpcRequest(service: "elsewhere", rpc: "add", arguments: [], types: [], returns: [])).type, "Service Not Found")
        XCTAssertEqual(try exception(rpcRequest(rpc: "nope", arguments: [], types: [], returns: [])).type, "RPC Not Found")
        XCTAssertEqual(try exception(rpcRequest(rpc: "add", arguments: [1, 2], types: ["int", "int"], returns: ["int"], client: "c2")).type, "Client Not Registered")
        // A bool is not an int, over MessagePack as over JSON.
        let bool = try exception(rpcRequest(rpc: "add", arguments: [.bool(true), 2], types: ["int", "int"], returns: ["int"]))
        XCTAssertEqual(bool.type, "Invalid Arguments", bool.message ?? "")
        let raised = try exception(rpcRequest(rpc: "boom", arguments: [], types: [], returns: ["int"]))
        XCTAssertEqual(raised.type, "Execution Exception")
        XCTAssertEqual(raised.message, "ValueError: boom")
        XCTAssertEqual(try exception(rpcRequest(rpc: "nap", arguments: [.float(2)], types: ["float"], returns: ["float"], timeout: 0.2)).type, "Timeout")
        XCTAssertEqual(try exception(.object(["header": .string(Header.rpcRequest), "value": .object(["service": .string("svc")])])).type, "Bad Request")
        XCTAssertEqual(try exception(.array([.int(1)])).type, "Bad Request")
        // One Python thread and one place in its queue: of four naps at once, two at most are
        // taken; the others are Server Busy, in MessagePack like the rest.
        let client = try MessagePackSocket(port: port)
        defer { client.close() }
        for _ in 0..<4 { try client.send(rpcRequest(rpc: "nap", arguments: [.float(1.0)], types: ["float"], returns: ["float"])) }
        let types = try (0..<4).map { _ in try client.receive()["value"]?["exception-type"]?.stringValue ?? "ok" }
        XCTAssertGreaterThanOrEqual(types.filter { $0 == "Server Busy" }.count, 2, "\(types)")
    }

    /// The server reads a connection's repeated request by difference from the last one and
    /// reuses its decision: each answer must still carry its own arguments and id, a deploy
    /// must change what runs, and what the fast reader leaves alone gets the general answer.
    func testRepeatedRequestsAreReadByDifferenceAndStayRight() throws {
        try serve()
        // The peer's last JSON connection leaves its request memory to the next connection.
        XCTAssertEqual(values(of: try json(requestLine(service: "svc", rpc: "add", arguments: [1, 2], types: ["int", "int"], returns: ["int"]))), [.int(3)])
        let client = try MessagePackSocket(port: port)
        defer { client.close() }
        let ids: [JSONValue?] = [nil, .int(1), .int(70_000), .string("r-1"), .float(0.5), .bigInt("99999999999999999999")]
        for round in 0..<60 {
            let id = ids[round % ids.count]
            let (a, b) = (round * 7 - 100, Int.max / 2 - round)
            let answer = try client.roundTrip(rpcRequest(rpc: "add", arguments: [.int(a), .int(b)], types: ["int", "int"], returns: ["int"], id: id))
            XCTAssertEqual(values(of: answer), [.int(a + b)], "round \(round)")
            XCTAssertEqual(answer["value"]?["id"], id, "round \(round)")
        }
        // A bool where an int goes, and too many arguments, on the same connection.
        let bool = try client.roundTrip(rpcRequest(rpc: "add", arguments: [.bool(true), 2], types: ["int", "int"], returns: ["int"], id: .int(5)))
        XCTAssertEqual(bool["value"]?["exception-type"], .string("Invalid Arguments"), "\(bool)")
        XCTAssertEqual(bool["value"]?["exception-message"]?.stringValue?.hasPrefix("argument 1 is a boolean true, expected int"), true, "\(bool)")
        let three = try client.roundTrip(rpcRequest(rpc: "add", arguments: [1, 2, 3], types: ["int", "int"], returns: ["int"]))
        XCTAssertEqual(three["value"]?["exception-message"]?.stringValue?.hasPrefix("3 arguments sent for 2 argument types"), true, "\(three)")
        // A map among the arguments is left to the general reader, which refuses it by type.
        let map = try client.roundTrip(rpcRequest(rpc: "add", arguments: [.object(["a": 1]), 2], types: ["int", "int"], returns: ["int"]))
        XCTAssertEqual(map["value"]?["exception-type"], .string("Invalid Arguments"), "\(map)")
        // A str that is not UTF-8, hidden inside the arguments: Bad Request, and the connection serves on.
        var invalid = MessagePackWriter.encode(rpcRequest(rpc: "same", arguments: [.string("ab")], types: ["str"], returns: ["str"]))
        invalid[try XCTUnwrap(invalid.firstRange(of: Array("ab".utf8))).lowerBound] = 0xFF
        try client.socket.send(MessagePackFrame.frame(invalid))
        let refused = try client.receive()
        XCTAssertEqual(refused["value"]?["exception-type"], .string("Bad Request"), "\(refused)")
        XCTAssertEqual(refused["value"]?["exception-message"]?.stringValue?.contains("str is not valid UTF-8"), true, "\(refused)")
        XCTAssertEqual(values(of: try client.roundTrip(rpcRequest(rpc: "add", arguments: [4, 5], types: ["int", "int"], returns: ["int"]))), [.int(9)])
        // A deploy that changes `add`: the remembered decision is not used past it.
        try Data(try String(contentsOf: folder.appendingPathComponent("m.py"), encoding: .utf8)
            .replacingOccurrences(of: "return a + b", with: "return a + b + 1000").utf8).write(to: folder.appendingPathComponent("m.py"))
        XCTAssertEqual(try CLIProcess.run(["deploy"], in: folder).status, 0, log)
        XCTAssertEqual(values(of: try client.roundTrip(rpcRequest(rpc: "add", arguments: [4, 5], types: ["int", "int"], returns: ["int"]))), [.int(1009)])
    }

    /// Arguments of 64 KB and more are read in place, in the buffer their message arrived in,
    /// which the call keeps (`ArgumentBytes`). Pipelined behind a call that sleeps, each big
    /// request stays queued while its connection reads the next ones into the same buffer:
    /// every call must still read its own list, in both encodings.
    func testLargeArgumentsPipelinedBehindASlowCallEachReadTheirOwnList() throws {
        try serve()
        let (packed, plain) = try bothEncodings()
        defer {
            packed.close()
            plain.close()
        }
        let lists: [[Double]] = (0..<6).map { (round: Int) -> [Double] in
            let offset = Double(round) * 0.125
            return (0..<20_000).map { (index: Int) -> Double in Double(index * (round + 1)).squareRoot() + offset }
        }
        let nap = rpcRequest(rpc: "nap", arguments: [.float(0.3)], types: ["float"], returns: ["float"])
        try packed.send(nap)
        try plain.send(try Envelope(message: nap).encoded())
        for (round, list) in lists.enumerated() {
            let rpc = round == 2 ? "floats" : "total"
            let request = rpcRequest(rpc: rpc, arguments: [.array(list.map(JSONValue.float))], types: ["List[float]"], returns: [round == 2 ? "List[float]" : "float"], id: .int(round))
            try packed.send(request)
            try plain.send(try Envelope(message: request).encoded())
        }
        for (index, answer) in [try packed.receive(), try JSONParser.parse(plain.readLine())].enumerated() {
            XCTAssertEqual(values(of: answer), [.float(0.3)], "the nap, connection \(index): \(answer)")
        }
        for (round, list) in lists.enumerated() {
            let expected: [JSONValue] = round == 2 ? [.array(list.map(JSONValue.float))] : [.float(list.reduce(0, +))]
            let overMessagePack = try packed.receive()
            XCTAssertEqual(overMessagePack["value"]?["id"], .int(round))
            XCTAssertEqual(values(of: overMessagePack), expected, "MessagePack, round \(round)")
            let overJSON = try JSONParser.parse(plain.readLine())
            XCTAssertEqual(overJSON["value"]?["id"], .int(round))
            XCTAssertEqual(values(of: overJSON), expected, "JSON, round \(round)")
        }
    }

    func testJSONAndMessagePackClientsAtTheSameTime() throws {
        try serve()
        let (packed, plain) = try bothEncodings()
        defer {
            packed.close()
            plain.close()
        }
        for index in 0..<50 {
            try packed.send(rpcRequest(rpc: "add", arguments: [.int(index), 1], types: ["int", "int"], returns: ["int"]))
            try plain.send(requestLine(service: "svc", rpc: "add", arguments: [.int(index), 2], types: ["int", "int"], returns: ["int"]) + "\n")
        }
        for index in 0..<50 {
            XCTAssertEqual(values(of: try packed.receive()), [.int(index + 1)])
            XCTAssertEqual(try JSONParser.parse(plain.readLine()).returnValues, [.int(index + 2)])
        }
    }

    func testSizeLimitsAndCutFrames() throws {
        try serve(["--max-message-bytes", "8000"])
        // A frame over the limit is refused from its 4-byte length, before its body is sent;
        // the connection closes (a frame cannot be skipped unread).
        let over = try MessagePackSocket(port: port)
        defer { over.close() }
        try over.socket.send([0, 1, 0, 0])  // 65,536 bytes announced
        let refusal = try over.receive()
        XCTAssertEqual(refusal["value"]?["exception-type"], .string("Bad Request"))
        XCTAssertTrue(refusal["value"]?["exception-message"]?.stringValue?.contains("--max-message-bytes") ?? false, "\(refusal)")
        XCTAssertTrue(try over.socket.readsEOF())

        // Not MessagePack, or trailing bytes: Bad Request, and the connection goes on.
        let client = try MessagePackSocket(port: port)
        defer { client.close() }
        try client.socket.send(MessagePackFrame.frame([0xC1]))
        XCTAssertEqual(try client.receive()["value"]?["exception-type"], .string("Bad Request"))
        try client.socket.send(MessagePackFrame.frame(MessagePackWriter.encode(rpcRequest(rpc: "add", arguments: [1, 1], types: ["int", "int"], returns: ["int"])) + [0xC0]))
        XCTAssertEqual(try client.receive()["value"]?["exception-type"], .string("Bad Request"))
        XCTAssertEqual(values(of: try client.roundTrip(rpcRequest(rpc: "add", arguments: [1, 1], types: ["int", "int"], returns: ["int"]))), [.int(2)])

        // The client half-closes inside a frame: Bad Request, then the end.
        let cut = try MessagePackSocket(port: port)
        defer { cut.close() }
        try cut.socket.send([0, 0, 0, 100, 0x82, 0xA6])
        cut.socket.shutdownWrite()
        let answer = try cut.receive()
        XCTAssertEqual(answer["value"]?["exception-type"], .string("Bad Request"))
        XCTAssertTrue(answer["value"]?["exception-message"]?.stringValue?.contains("ended inside a MessagePack frame") ?? false, "\(answer)")
        XCTAssertTrue(try cut.socket.readsEOF())
    }

    /// A first byte that begins neither encoding is refused at once (not after the message
    /// timeout): a client of a later version learns within a round trip what this server speaks.
    func testAFirstByteNoMessageBeginsWithIsRefusedAtOnce() throws {
        try serve()
        let socket = try RawSocket(host: "127.0.0.1", port: port)
        defer { socket.close() }
        let started = Date()
        try socket.send([0x01, 0x02, 0x03])
        let answer = try JSONParser.parse(socket.readLine())
        XCTAssertEqual(answer.exceptionType, "Bad Request")
        XCTAssertTrue(answer.exceptionMessage?.contains("0x01") ?? false, answer.exceptionMessage ?? "")
        XCTAssertTrue(try socket.readsEOF())
        XCTAssertLessThan(Date().timeIntervalSince(started), 2)
    }

    /// The Swift client on a new connection: calls made at once all go in order behind the
    /// first message (the mark), and a first message too long to pad goes after a probe.
    func testTheSwiftClientsFirstMessagesInAnyOrderAndSize() async throws {
        try serve()
        let client = RPCClient(host: "127.0.0.1", port: port, client: "c1")
        defer { client.close() }
        let sums = try await withThrowingTaskGroup(of: (Int, Int).self) { group in
            for index in 0..<40 {
                group.addTask { (index, try await client.call("svc", "add", index, 1) as Int) }
            }
            return try await group.reduce(into: [Int: Int]()) { $0[$1.0] = $1.1 }
        }
        XCTAssertEqual(sums, Dictionary(uniqueKeysWithValues: (0..<40).map { ($0, $0 + 1) }))

        let big = BlockingRPCClient(host: "127.0.0.1", port: port, client: "c1", encoding: .messagePack)
        defer { big.close() }
        let numbers = (0..<2000).map { JSONValue.float(Double($0) / 8) }
        let answer = try big.callValues("svc", "floats", arguments: [.array(numbers)], argumentTypes: [.list(.float)], returnTypes: [.list(.float)])
        XCTAssertEqual(answer, [.array(numbers)])
    }

    /// While a crash loop leaves no worker, the supervisor answers MessagePack clients in
    /// MessagePack too.
    func testTheCrashLoopDeskAnswersInMessagePack() throws {
        // The script kills its worker as it loads once the marker file exists.
        let script = folder.appendingPathComponent("m.py")
        try ("import os\nif os.path.exists('\(folder.path)/marker'):\n    os._exit(7)\n" + String(contentsOf: script, encoding: .utf8))
            .write(to: script, atomically: true, encoding: .utf8)
        try serve()
        XCTAssertTrue(FileManager.default.createFile(atPath: folder.appendingPathComponent("marker").path, contents: nil))
        for pid in childProcesses(of: server!.processIdentifier) { kill(pid, SIGKILL) }
        XCTAssertTrue(wait(30) { occurrences(of: "crash loop") >= 1 }, log)
        let answer = try XCTUnwrap(try? {
            // A worker may still be starting when the loop is declared: ask until the desk answers.
            var last: JSONValue = .null
            for _ in 0..<50 {
                let client = try MessagePackSocket(port: port)
                defer { client.close() }
                last = try client.roundTrip(rpcRequest(rpc: "add", arguments: [1, 1], types: ["int", "int"], returns: ["int"]))
                if last["value"]?["exception-type"] == .string("Server Busy") { return last }
                usleep(100_000)
            }
            return last
        }())
        XCTAssertEqual(answer["value"]?["exception-type"], .string("Server Busy"), "\(answer)")
        XCTAssertTrue(answer["value"]?["exception-message"]?.stringValue?.contains("no worker running") ?? false, "\(answer)")
    }

    /// Recycling moves a MessagePack connection to another worker, its encoding with it.
    func testRecyclingMovesMessagePackConnectionsWithoutALostCall() throws {
        try serve(["--max-requests", "20"])
        let client = try MessagePackSocket(port: port)
        defer { client.close() }
        for index in 0..<120 {
            let answer = try client.roundTrip(rpcRequest(rpc: "add", arguments: [.int(index), 1], types: ["int", "int"], returns: ["int"]))
            XCTAssertEqual(values(of: answer), [.int(index + 1)], "call \(index): \(answer)")
        }
        XCTAssertGreaterThanOrEqual(occurrences(of: "recycled after"), 2, log)
    }
}

/// The README's Python client, run as written (its port and service changed) with Python's
/// `msgpack` package: an implementation that shares no code with the server.
final class PythonMessagePackTests: ServerProcessTestCase {
    func testTheREADMEsPythonClient() throws {
        let python = ProcessInfo.processInfo.environment["PYRPC_NUMPY_VENV"].map { "\($0)/bin/python" }
            ?? FileManager.default.homeDirectoryForCurrentUser.appendingPathComponent(".cache/pyrpc/numpy-venv-3.11/bin/python").path
        guard FileManager.default.isExecutableFile(atPath: python),
              (try? CLIProcess.run(["-c", "import msgpack"], executable: python).status) == 0 else {
            throw XCTSkip("no Python with the msgpack package at \(python) (.ci/run makes that venv with it)")
        }
        try writeFiles([
            "init.yaml": oneServerNetwork(port: port, rpcs: [("add", "[int, int]", "[int]", "m.py"), ("scale", "[\"List[float]\", int]", "[\"List[float]\"]", "m.py")]),
            "m.py": "def add(a, b):\n    return a + b\n\ndef scale(xs, k):\n    return [x * k for x in xs]\n",
        ], in: folder)
        server = try CLIProcess.start(["serve", "s1", "--state-dir", "state", "--processes", "1"], in: folder)
        XCTAssertTrue(wait(60) { occurrences(of: " ready (generation") >= 1 }, log)
        XCTAssertEqual(try CLIProcess.run(["deploy"], in: folder).status, 0, log)

        let readme = CLIProcess.contents(URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("../../README.md"))
        guard let start = readme.range(of: "### MessagePack"), let code = readme[start.upperBound...].range(of: "```python\n"),
              let end = readme[code.upperBound...].range(of: "```") else { return XCTFail("no Python client under ### MessagePack in the README") }
        var client = String(readme[code.upperBound..<end.lowerBound])
            .replacingOccurrences(of: "8181", with: "\(port)").replacingOccurrences(of: "\"calc\"", with: "\"svc\"")
        client += """
            print(call("svc", "add", [2**70, -3], ["int", "int"], ["int"]))
            print(call("svc", "scale", [[1.5, float("inf"), float("nan")], 2], ["List[float]", "int"], ["List[float]"]))
            print(call("svc", "add", [True, 1], ["int", "int"], ["int"])["exception-type"])

            """
        try client.write(to: folder.appendingPathComponent("client.py"), atomically: true, encoding: .utf8)
        let run = try CLIProcess.run([folder.appendingPathComponent("client.py").path], executable: python)
        XCTAssertEqual(run.status, 0, run.stderr)
        XCTAssertEqual(run.stdout, """
            {'return-values': [5]}
            {'return-values': [1180591620717411303421]}
            {'return-values': [[3.0, inf, nan]]}
            Invalid Arguments

            """, run.stderr)
    }
}
