import PyRPCWire
import XCTest

/// Every type of SPEC §3 through the real interpreter and back, with edge cases.
final class TypeTests: XCTestCase {
    var network: TestNetwork!

    override func setUp() async throws {
        network = try await Fixtures.start()
    }

    override func tearDown() async throws {
        await network?.stop()
    }

    private func echo(_ rpc: String, _ value: JSONValue, _ type: String) throws -> JSONValue {
        try network.roundTrip(requestLine(service: "types", rpc: rpc, arguments: [value], types: [type], returns: [type]))
    }

    private func assertRoundTrip(_ rpc: String, _ value: JSONValue, _ type: String, file: StaticString = #filePath, line: UInt = #line) throws {
        let answer = try echo(rpc, value, type)
        XCTAssertEqual(answer.returnValues, [value], "\(answer.jsonText)", file: file, line: line)
    }

    func testIntegersOfAnySize() throws {
        for value: JSONValue in [0, -1, 42, .int(Int.max), .int(Int.min), .bigInt("1267650600228229401496703205376"),
                                 .bigInt("-1267650600228229401496703205376"), .bigInt("18446744073709551616")] {
            try assertRoundTrip("same_int", value, "int")
        }
    }

    func testBigIntegerTextOnTheWire() throws {
        let line = try network.roundTrip(requestLine(service: "types", rpc: "same_int", arguments: [.bigInt("1267650600228229401496703205376")], types: ["int"], returns: ["int"]))
        XCTAssertEqual(line.jsonText, #"{"header":"RPC-RES","value":{"return-values":[1267650600228229401496703205376]}}"#)
    }

    func testFloatsIncludingSpecialValues() throws {
        for value in [0.0, 1.5, -2.25, 0.1, 1e-300, 1.7976931348623157e308, Double.leastNonzeroMagnitude] {
            try assertRoundTrip("same_float", .float(value), "float")
        }
        let negativeZero = try echo("same_float", .float(-0.0), "float").returnValues?.first
        guard case .float(let zero)? = negativeZero else { return XCTFail("not a float: \(String(describing: negativeZero))") }
        XCTAssertEqual(zero, 0)
        XCTAssertEqual(zero.sign, .minus, "-0.0 must keep its sign")
        XCTAssertEqual(try echo("same_float", "nan", "float").returnValues, ["nan"])
        XCTAssertEqual(try echo("same_float", "inf", "float").returnValues, ["inf"])
        XCTAssertEqual(try echo("same_float", "-inf", "float").returnValues, ["-inf"])
    }

    func testIntIsAcceptedWhereFloatIsDeclared() throws {
        XCTAssertEqual(try echo("same_float", 3, "float").returnValues, [.float(3)])
    }

    func testStrings() throws {
        for text in ["", "hello", "straße", "😀 emoji 🎉", "line\nbreak \"quoted\" \\ back", "tab\tand\u{1}control", "中文"] {
            try assertRoundTrip("same_str", .string(text), "str")
        }
    }

    func testBooleans() throws {
        try assertRoundTrip("same_bool", true, "bool")
        try assertRoundTrip("same_bool", false, "bool")
    }

    func testListsNestedAndEmpty() throws {
        try assertRoundTrip("same_ints", [], "List[int]")
        try assertRoundTrip("same_ints", [1, -2, .bigInt("100000000000000000000")], "List[int]")
        try assertRoundTrip("same_floats", [], "List[float]")
        try assertRoundTrip("same_floats", [1.5, -0.5, 1e10], "List[float]")
        try assertRoundTrip("same_strs", ["a", "", "ü"], "List[str]")
        try assertRoundTrip("same_grid", [[1.5, 2.5], [], [3.5]], "List[List[float]]")
        // `list[T]` is an alias.
        XCTAssertEqual(try echo("same_ints", [1, 2], "list[int]").returnValues, [[1, 2]])
    }

    func testBoolIsNotIntAndIntIsNotStr() throws {
        XCTAssertEqual(try echo("same_int", true, "int").exceptionType, "Invalid Arguments")
        XCTAssertEqual(try echo("same_bool", 1, "bool").exceptionType, "Invalid Arguments")
        XCTAssertEqual(try echo("same_str", 5, "str").exceptionType, "Invalid Arguments")
        XCTAssertEqual(try echo("same_int", 1.5, "int").exceptionType, "Invalid Arguments")
        XCTAssertEqual(try echo("same_ints", [1, true], "List[int]").exceptionType, "Invalid Arguments")
        let answer = try echo("same_grid", [[1.5], ["x"]], "List[List[float]]")
        XCTAssertTrue(answer.exceptionMessage!.hasPrefix("element 0 of element 1 of argument 1 is a string \"x\", expected float"), answer.exceptionMessage!)
    }

    func testStringEncodedCourseArguments() throws {
        XCTAssertEqual(try echo("same_int", "42", "int").returnValues, [42])
        XCTAssertEqual(try echo("same_ints", "[1, 2]", "List[int]").returnValues, [[1, 2]])
        XCTAssertEqual(try echo("same_strs", "['a', 'b']", "List[str]").returnValues, [["a", "b"]])
        XCTAssertEqual(try echo("same_floats", "[1.5, 2]", "List[float]").returnValues, [[1.5, 2.0]])
        XCTAssertEqual(try echo("same_bool", "true", "bool").returnValues, [true])
        XCTAssertEqual(try echo("same_float", "2.5", "float").returnValues, [2.5])
        XCTAssertEqual(try echo("same_str", "42", "str").returnValues, ["42"])
        XCTAssertEqual(try echo("same_int", "forty", "int").exceptionType, "Invalid Arguments")
    }

    func testMultipleReturnValuesAndNone() throws {
        let pair = try network.roundTrip(requestLine(service: "types", rpc: "pair", arguments: [21], types: ["int"], returns: ["int", "str"]))
        XCTAssertEqual(pair.returnValues, [42, "21"])
        let nothing = try network.roundTrip(requestLine(service: "types", rpc: "nothing", arguments: [], types: [], returns: []))
        XCTAssertEqual(nothing.returnValues, [])
    }

    func testOverloadSelection() throws {
        let ints = try network.roundTrip(requestLine(arguments: [2, 3], types: ["int", "int"], returns: ["int"]))
        XCTAssertEqual(ints.returnValues, [5])
        // The float overload asserts it received floats: ints sent as floats are converted.
        let floats = try network.roundTrip(requestLine(arguments: [2, 3.5], types: ["float", "float"], returns: ["float"]))
        XCTAssertEqual(floats.returnValues, [5.5])
        let mixed = try network.roundTrip(requestLine(arguments: [2, 3], types: ["int", "int"], returns: ["float"]))
        XCTAssertEqual(mixed.exceptionType, "Invalid Arguments")
    }

    func testPrintGoesToTheLogNotTheWire() throws {
        let socket = try network.socket()
        defer { socket.close() }
        try socket.send(requestLine(service: "demo", rpc: "chatty", arguments: ["hi"], types: ["str"], returns: ["str"]) + "\n")
        try socket.send(requestLine(arguments: [1, 2], types: ["int", "int"], returns: ["int"]) + "\n")
        XCTAssertEqual(try JSONParser.parse(socket.readLine()).returnValues, ["HI"])
        XCTAssertEqual(try JSONParser.parse(socket.readLine()).returnValues, [3])
    }

    func testModuleStatePersistsBetweenCalls() throws {
        let socket = try network.socket()
        defer { socket.close() }
        for expected in 1...3 {
            try socket.send(requestLine(service: "demo", rpc: "hit", arguments: [], types: [], returns: ["int"]) + "\n")
            XCTAssertEqual(try JSONParser.parse(socket.readLine()).returnValues, [.int(expected)])
        }
    }
}
