import Foundation
import PyRPCServer
import PyRPCWire
import XCTest

/// A message that is not valid JSON is a Bad Request wherever the error is: after an argument
/// that already fails its type, among extra arguments, deep inside a string, after the
/// object — and before any other answer (unknown service, busy) is given.
final class StrictJSONTests: XCTestCase {
    var network: TestNetwork!

    override func setUp() async throws {
        network = try await Fixtures.start()
    }

    override func tearDown() async throws {
        await network?.stop()
    }

    private func request(service: String = "calc", rpc: String = "add", arguments: String, types: String = #"["int","int"]"#) -> String {
        #"{"header":"RPC-REQ","value":{"client":"c1","service":"\#(service)","rpc":"\#(rpc)","arguments":\#(arguments),"argument-types":\#(types),"return-types":["int"],"id":3}}"#
    }

    /// The exception type each line gets, sent twice on one connection (the second time the
    /// connection's remembered request reads it by difference) and once on a fresh one.
    private func answers(_ line: String) throws -> [String?] {
        let socket = try network.socket()
        defer { socket.close() }
        var types: [String?] = []
        for _ in 0..<2 {
            try socket.send(line + "\n")
            types.append(try JSONParser.parse(socket.readLine()).exceptionType)
        }
        types.append(try network.roundTrip(line).exceptionType)
        return types
    }

    func testInvalidJSONAfterAMismatchedArgumentIsABadRequest() throws {
        let cases = [
            request(arguments: #"["x", "\uZZZZ"]"#),             // bad escape after a mismatch
            request(arguments: #"["x", 01]"#),                   // leading zero
            request(arguments: #"[1, 2, tru]"#),                 // among extra arguments
            request(arguments: #"[1, 2, "\#u{01}"]"#),           // raw control character in an extra string
            request(arguments: #"["x", [1, 2,]]"#),              // trailing comma deeper down
            request(arguments: #"[true, {"a" 1}]"#),             // missing colon
        ]
        for line in cases {
            XCTAssertEqual(try answers(line), ["Bad Request", "Bad Request", "Bad Request"], line)
        }
    }

    func testInvalidUTF8DeepInAStringIsABadRequest() throws {
        var bytes = Array(request(arguments: #"["x", ["ok", "bad:XX"]]"#, types: #"["int","List[str]"]"#).utf8)
        let at = bytes.firstIndex(of: UInt8(ascii: "X"))!
        bytes[at] = 0xC3
        bytes[at + 1] = 0x28  // an invalid continuation byte
        let socket = try network.socket()
        defer { socket.close() }
        try socket.send(bytes + [UInt8(ascii: "\n")])
        XCTAssertEqual(try JSONParser.parse(socket.readLine()).exceptionType, "Bad Request")
    }

    func testValidityComesBeforeEveryOtherAnswer() throws {
        XCTAssertEqual(try answers(request(service: "nope", arguments: #"[1, 2 3]"#)), ["Bad Request", "Bad Request", "Bad Request"])
        XCTAssertEqual(try answers(request(rpc: "nope", arguments: #"[1, "\q"]"#)), ["Bad Request", "Bad Request", "Bad Request"])
        XCTAssertEqual(try answers(request(arguments: #"[1, 2]"#, types: #"["str","str"]"#).replacingOccurrences(of: "[1, 2]", with: "[1, 2")),
                       ["Bad Request", "Bad Request", "Bad Request"])
    }

    func testTextAfterTheObjectIsABadRequest() throws {
        for tail in [" x", "}", "{}", ",", " null"] {
            XCTAssertEqual(try network.roundTrip(request(arguments: "[1, 2]") + tail).exceptionType, "Bad Request", tail)
        }
    }

    func testValidButMismatchedArgumentsAreStillInvalidArguments() throws {
        XCTAssertEqual(try answers(request(arguments: #"["x", "\u00e9"]"#)), ["Invalid Arguments", "Invalid Arguments", "Invalid Arguments"])
        XCTAssertEqual(try answers(request(arguments: #"[1, 2, 3]"#)), ["Invalid Arguments", "Invalid Arguments", "Invalid Arguments"])
        // Found by fuzzing: an extra argument of more than one character was stepped over a
        // byte at a time and answered Bad Request.
        XCTAssertEqual(try answers(request(arguments: #"[1, 2, 345]"#)), ["Invalid Arguments", "Invalid Arguments", "Invalid Arguments"])
        XCTAssertEqual(try answers(request(arguments: #"[1, 2, -0.5e3, "four"]"#)), ["Invalid Arguments", "Invalid Arguments", "Invalid Arguments"])
        XCTAssertEqual(try answers(request(service: "nope", arguments: #"[1, 2]"#)), ["Service Not Found", "Service Not Found", "Service Not Found"])
    }
}
