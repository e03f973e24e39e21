import XCTest
@testable import PyRPCPython
import PyRPCWire

/// A MessagePack connection's raw arguments read straight into Python objects
/// (`MessagePackToPython`): every type, the float64 list fast path, the general path for
/// course-style strings and big ints, and the same Invalid Arguments messages as a request
/// read as values.
final class MessagePackArgumentTests: XCTestCase {
    /// Python reports each argument's type and value, so the test sees exactly what the function got.
    let describe = "def f(*xs):\n    return [type(x).__name__ + ':' + repr(x) for x in xs]\n"

    /// Calls `source`'s `f` with `arguments` written as MessagePack, as the server calls it on
    /// a MessagePack connection; the outcome and the return values read back.
    func callMessagePack(_ source: String, _ arguments: [JSONValue], types: [RPCType], returns: [RPCType]) async throws -> (EncodedOutcome, JSONValue?) {
        try await callMessagePack(source, raw: MessagePackWriter.encode(.array(arguments)), types: types, returns: returns)
    }

    func callMessagePack(_ source: String, raw: [UInt8], types: [RPCType], returns: [RPCType]) async throws -> (EncodedOutcome, JSONValue?) {
        let script = try await load(source)
        let result: (EncodedOutcome, [UInt8])? = await sharedPool.perform { gil in
            guard let function = try? script.function(named: "f", gil) else { return nil }
            defer { function.dispose(gil) }
            var writer = MessagePackWriter(capacity: 16)
            let outcome = function.callEncoded(rawArguments: ArgumentBytes(raw), values: [], types: types, returns: returns, into: &writer, gil)
            return (outcome, writer.bytes)
        }
        await script.unload(pool: sharedPool)
        let (outcome, written) = try XCTUnwrap(result)
        return (outcome, outcome == .returned ? try MessagePackReader.decode(written) : nil)
    }

    /// What `describe` answers for the arguments, one string per argument.
    func described(_ arguments: [JSONValue], _ types: [RPCType], file: StaticString = #filePath, line: UInt = #line) async throws -> [String] {
        let (outcome, values) = try await callMessagePack(describe, arguments, types: types, returns: [.list(.str)])
        XCTAssertEqual(outcome, .returned, file: file, line: line)
        guard case .array(let lists)? = values, case .array(let strings)? = lists.first else { return [] }
        return strings.compactMap { if case .string(let text) = $0 { text } else { nil } }
    }

    func testEveryScalarTypeArrivesAsItsPythonType() async throws {
        let got = try await described(
            [.int(-5), .float(2.5), .string("héllo ✓"), .bool(true), .int(7), .bigInt("123456789012345678901234567890")],
            [.int, .float, .str, .bool, .float, .int])
        XCTAssertEqual(got, ["int:-5", "float:2.5", "str:'héllo ✓'", "bool:True", "float:7.0", "int:123456789012345678901234567890"])
    }

    func testEveryIntegerWidthAndUInt64PastIntMax() async throws {
        let values: [JSONValue] = [.int(0), .int(127), .int(-32), .int(255), .int(-129), .int(65_535), .int(-40_000), .int(4_294_967_295),
                                   .int(Int.min), .int(Int.max), .bigInt("18446744073709551615")]
        let got = try await described(values, Array(repeating: .int, count: values.count))
        XCTAssertEqual(got, ["int:0", "int:127", "int:-32", "int:255", "int:-129", "int:65535", "int:-40000", "int:4294967295",
                             "int:\(Int.min)", "int:\(Int.max)", "int:18446744073709551615"])
    }

    func testNaNAndInfinitiesAreNativeFloats() async throws {
        let got = try await described([.array([.float(.nan), .float(.infinity), .float(-.infinity), .float(-0.0)])], [.list(.float)])
        XCTAssertEqual(got, ["list:[nan, inf, -inf, -0.0]"])
    }

    func testNestedAndEmptyLists() async throws {
        let got = try await described(
            [.array([.array([.int(1), .int(2)]), .array([])]), .array([]), .array([.array([.string("a")]), .array([.string("")])])],
            [.list(.list(.int)), .list(.float), .list(.list(.str))])
        XCTAssertEqual(got, ["list:[[1, 2], []]", "list:[]", "list:[['a'], ['']]"])
    }

    /// The bulk case: float64s read in line, mixed with ints and a float32 read one by one.
    func testLongFloatListArrivesWholeWithMixedSpellings() async throws {
        var values: [JSONValue] = (0..<10_000).map { .float(Double($0) * 0.5 + 0.25) }
        values[17] = .int(3)
        values[9_999] = .int(-70_000)
        var raw = MessagePackWriter(capacity: 1 << 17)
        raw.arrayHeader(count: 1)
        raw.arrayHeader(count: values.count + 1)
        for value in values { raw.value(value) }
        raw.bytes += [0xCA] + withUnsafeBytes(of: Float(1.5).bitPattern.bigEndian, Array.init)  // a float32
        let expected = values.reduce(0.0) { sum, value in
            switch value {
            case .float(let number): sum + number
            case .int(let number): sum + Double(number)
            default: sum
            }
        } + 1.5
        let (outcome, answer) = try await callMessagePack(
            "def f(xs):\n    return [float(len(xs)), sum(xs), xs[17], xs[10000]]\n", raw: raw.bytes, types: [.list(.float)], returns: [.list(.float)])
        XCTAssertEqual(outcome, .returned)
        XCTAssertEqual(answer, .array([.array([.float(10_001), .float(expected), .float(3), .float(1.5)])]))
    }

    /// The bulk reader makes its floats without `PyFloat_FromDouble` (`pyrpc_new_float`), and
    /// the JSON reader hands its list its storage (`pyrpc_list_adopting`): Python must see
    /// ordinary floats, each held only by the list, each block traced by tracemalloc where it
    /// was made, a list that grows and shrinks as any other, and all of it given back when the
    /// list goes.
    func testBulkFloatsAreOrdinaryTracedAndFreed() async throws {
        let values = (0..<20_000).map { JSONValue.float(Double($0) * 0.75 - 3.0) }
        let (outcome, answer) = try await callMessagePack(Self.ordinaryFloats, [.array(values)], types: [.list(.float)], returns: [.list(.float)])
        XCTAssertEqual(outcome, .returned)
        let sum = (0..<20_000).reduce(0.0) { $0 + (Double($1) * 0.75 - 3.0) }
        // all exact floats, references [list + getrefcount's argument], traced blocks, sum, freed after
        XCTAssertEqual(answer, .array([.array([.float(1), .float(2), .float(1), .float(sum), .float(1)])]))
    }

    /// `f` checks its list (see `testBulkFloatsAreOrdinaryTracedAndFreed`); tracing starts as
    /// the script loads, before the arguments are made, and stops in `f`.
    static let ordinaryFloats = """
        import gc, sys, tracemalloc
        tracemalloc.start()

        def f(xs):
            try:
                exact = all(type(x) is float for x in xs)
                references = max(sys.getrefcount(xs[i]) for i in range(len(xs)))
                traced = all(tracemalloc.get_object_traceback(xs[i]) is not None for i in range(0, len(xs), 97))
                total = sum(xs)
                # The list grows and shrinks in its own storage (the JSON reader's block).
                xs.extend(xs[:5000])
                xs[len(xs) - 5000:] = []
                total = total if sum(xs) == total else float("nan")
                before = tracemalloc.get_traced_memory()[0]
                del xs[:]
                gc.collect()
                freed = before - tracemalloc.get_traced_memory()[0] >= 20_000 * 24
                return [float(exact), float(references), float(traced), total, float(freed)]
            finally:
                tracemalloc.stop()

        """

    /// Strings in place of numbers, as course clients send them, take the general path and
    /// are read as a request read as values reads them.
    func testCourseStyleStringsAreCoercedAsFromValues() async throws {
        let got = try await described(
            [.string("42"), .string("nan"), .string("[1, 2]"), .string("true"), .array([.string("2.5"), .float(1)])],
            [.int, .float, .list(.int), .bool, .list(.float)])
        XCTAssertEqual(got, ["int:42", "float:nan", "list:[1, 2]", "bool:True", "list:[2.5, 1.0]"])
    }

    /// Invalid Arguments says what `ValueCoercion` says for the same values, with the same path.
    func testMismatchesAreWordedAsFromValues() async throws {
        let cases: [([JSONValue], [RPCType])] = [
            ([.array([.float(1.5), .float(2.5), .string("x"), .float(4)])], [.list(.float)]),
            ([.int(1), .float(2.5)], [.int, .int]),
            ([.bool(true)], [.int]),
            ([.int(1)], [.bool]),
            ([.array([.array([.int(1)]), .array([.string("no")])])], [.list(.list(.int))]),
            ([.null], [.str]),
            ([.array([.int(1), .bool(false)])], [.list(.float)]),
        ]
        for (arguments, types) in cases {
            let (outcome, _) = try await callMessagePack(describe, arguments, types: types, returns: [.list(.str)])
            var expected: String?
            for (index, (value, type)) in zip(arguments, types).enumerated() where expected == nil {
                do { _ = try ValueCoercion.coerce(value, to: type, path: "argument \(index + 1)") } catch { expected = error.description }
            }
            XCTAssertEqual(outcome, .invalidArguments(try XCTUnwrap(expected)), "\(arguments) as \(types)")
        }
    }

    /// The count is checked first, as for a request read as values.
    func testCountIsCheckedBeforeTheValues() async throws {
        let (outcome, _) = try await callMessagePack(describe, [.string("x"), .int(1), .int(2)], types: [.int, .int], returns: [.list(.str)])
        XCTAssertEqual(outcome, .invalidArguments("3 arguments sent for 2 argument types"))
        let (one, _) = try await callMessagePack(describe, [.int(1)], types: [.int, .int], returns: [.list(.str)])
        XCTAssertEqual(one, .invalidArguments("1 argument sent for 2 argument types"))
        // Arguments already read as values say the same (in one word, not "1 arguments").
        let script = try await load(describe)
        let fromValues: EncodedOutcome? = await sharedPool.perform { gil in
            guard let function = try? script.function(named: "f", gil) else { return nil }
            defer { function.dispose(gil) }
            var writer = JSONWriter()
            return function.callEncoded(rawArguments: nil, values: [.int(1)], types: [.int, .int], returns: [.list(.str)], into: &writer, gil)
        }
        await script.unload(pool: sharedPool)
        XCTAssertEqual(fromValues, .invalidArguments("1 argument sent for 2 argument types"))
    }
}
