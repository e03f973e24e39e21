import XCTest
@testable import PyRPCWire

/// A small deterministic generator (SplitMix64) so random tests repeat exactly.
struct SeededGenerator: RandomNumberGenerator {
    var state: UInt64

    init(seed: UInt64) { state = seed }

    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}

/// The parse error for `text`, failing the test when it parses.
func parseError(
    _ text: String, lenient: Bool = false, file: StaticString = #filePath, line: UInt = #line
) -> JSONParseError? {
    do {
        let value = try JSONParser.parse(text, lenient: lenient)
        XCTFail("expected a parse error for \(text.debugDescription), got \(value)", file: file, line: line)
        return nil
    } catch {
        return error
    }
}

/// The parse error for raw `bytes`, failing the test when they parse.
func parseError(_ bytes: [UInt8], file: StaticString = #filePath, line: UInt = #line) -> JSONParseError? {
    do {
        let value = try JSONParser.parse(bytes)
        XCTFail("expected a parse error for \(bytes), got \(value)", file: file, line: line)
        return nil
    } catch {
        return error
    }
}

/// The `RPCError` thrown by `body`, failing the test when it does not throw.
func rpcError<T>(file: StaticString = #filePath, line: UInt = #line, _ body: () throws(RPCError) -> T) -> RPCError? {
    do {
        let value = try body()
        XCTFail("expected an RPCError, got \(value)", file: file, line: line)
        return nil
    } catch {
        return error
    }
}

/// The `ValueMismatch` thrown by coercing `value` to `type` at `path`.
func mismatch(
    _ value: JSONValue, _ type: RPCType, path: String = "argument 1",
    file: StaticString = #filePath, line: UInt = #line
) -> String? {
    do {
        let coerced = try ValueCoercion.coerce(value, to: type, path: path)
        XCTFail("expected \(value) not to fit \(type), got \(coerced)", file: file, line: line)
        return nil
    } catch {
        return error.description
    }
}

/// Parses `text` as a message and reads its envelope.
func envelope(_ text: String) throws -> Envelope {
    try Envelope(message: try JSONParser.parse(text))
}
