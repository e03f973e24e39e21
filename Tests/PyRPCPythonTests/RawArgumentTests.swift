import XCTest
@testable import PyRPCPython
import PyRPCWire

/// Raw JSON arguments parsed straight into Python objects, through the list fast paths and
/// the general path, as the server calls functions.
final class RawArgumentTests: XCTestCase {
    /// Calls `source`'s `f` with the raw `arguments` JSON and returns the outcome.
    func callRaw(_ source: String, _ arguments: String, types: [RPCType], returns: [RPCType]) async throws -> RawOutcome {
        let script = try await load(source)
        let outcome: RawOutcome? = await sharedPool.perform { gil in
            guard let function = try? script.function(named: "f", gil) else { return nil }
            defer { function.dispose(gil) }
            // Something already in the writer, as the server's answer start is: the values follow it.
            var writer = JSONWriter(capacity: 16)
            writer.raw("<")
            let outcome = function.callEncoded(rawArguments: ArgumentBytes(Array(arguments.utf8)), values: [], types: types, returns: returns, into: &writer, gil)
            return RawOutcome(outcome: outcome, written: String(decoding: writer.bytes, as: UTF8.self))
        }
        await script.unload(pool: sharedPool)
        return try XCTUnwrap(outcome)
    }

    struct RawOutcome: Sendable {
        let outcome: EncodedOutcome
        /// What the writer held afterwards: "<" and the return-values list.
        let written: String
    }

    func text(_ raw: RawOutcome) -> String? {
        guard case .returned = raw.outcome else { return nil }
        XCTAssertTrue(raw.written.hasPrefix("<"), "the values follow what the writer held")
        return String(raw.written.dropFirst())
    }

    /// Python reports each element's type and value, so the test sees exactly what the function got.
    let describe = "def f(xs):\n    return [type(x).__name__ + ':' + repr(x) for x in xs]\n"

    /// As `MessagePackArgumentTests.testBulkFloatsAreOrdinaryTracedAndFreed`, for the JSON
    /// list fast path, which makes its floats the same way.
    func testBulkFloatsAreOrdinaryTracedAndFreed() async throws {
        let values = (0..<20_000).map { Double($0) * 0.75 - 3.0 }
        let arguments = "[[" + values.map { "\($0)" }.joined(separator: ",") + "]]"
        let outcome = try await callRaw(MessagePackArgumentTests.ordinaryFloats, arguments, types: [.list(.float)], returns: [.list(.float)])
        XCTAssertEqual(text(outcome), "[[1.0,2.0,1.0,\(values.reduce(0, +)),1.0]]")
    }

    func testFloatListMixesFastAndGeneralSpellings() async throws {
        let outcome = try await callRaw(describe, "[[1, 2.5, 1e2, -0.0, -0, 3, 12345678901234567890, 0.1]]", types: [.list(.float)], returns: [.list(.str)])
        XCTAssertEqual(text(outcome), #"[["float:1.0","float:2.5","float:100.0","float:-0.0","float:0.0","float:3.0","float:1.2345678901234567e+19","float:0.1"]]"#)
    }

    func testIntListKeepsBigIntegersExact() async throws {
        let outcome = try await callRaw(describe, "[[0, -7, 123456789012345678, 1234567890123456789012, 5]]", types: [.list(.int)], returns: [.list(.str)])
        XCTAssertEqual(text(outcome), #"[["int:0","int:-7","int:123456789012345678","int:1234567890123456789012","int:5"]]"#)
    }

    func testLongFloatListArrivesWhole() async throws {
        let values = (0..<10_000).map { Double($0) * 0.5 + 0.25 }
        let json = "[[" + values.map { "\($0)" }.joined(separator: ",") + "]]"
        let outcome = try await callRaw("def f(xs):\n    return [len(xs), sum(xs)]\n", json, types: [.list(.float)], returns: [.list(.float)])
        XCTAssertEqual(text(outcome), "[[10000.0,\(values.reduce(0, +))]]")
    }

    func testWrongElementIsNamedWithItsIndex() async throws {
        let outcome = try await callRaw(describe, #"[[1.5, 2.5, "x", 4]]"#, types: [.list(.float)], returns: [.list(.str)])
        guard case .invalidArguments(let message) = outcome.outcome else { return XCTFail("\(outcome)") }
        XCTAssertTrue(message.contains("element 2"), message)
        XCTAssertTrue(message.contains("argument 1"), message)
    }

    func testIntegerTypeRefusesAFloatInAList() async throws {
        let outcome = try await callRaw(describe, "[[1, 2, 3.5]]", types: [.list(.int)], returns: [.list(.str)])
        guard case .invalidArguments(let message) = outcome.outcome else { return XCTFail("\(outcome)") }
        XCTAssertTrue(message.contains("element 2"), message)
    }

    func testMalformedListIsReportedNotGuessed() async throws {
        let outcome = try await callRaw(describe, "[[1.5 2.5]]", types: [.list(.float)], returns: [.list(.str)])
        guard case .malformed(let message) = outcome.outcome else { return XCTFail("\(outcome)") }
        XCTAssertTrue(message.contains("expected ',' or ']'"), message)
    }
}
