import XCTest
@testable import PyRPCPython
import PyRPCWire

/// Return values that are not exactly the declared type but follow Python's number and
/// iteration protocols (what numpy scalars and arrays do), through the server's call path.
final class ProtocolConversionTests: XCTestCase {
    func testIndexTypesAreInts() async throws {
        let source = """
            class Count:
                def __init__(self, n): self.n = n
                def __index__(self): return self.n

            def f():
                return Count(7)

            def big():
                return Count(2 ** 70)

            """
        let small = try await callOnce(source, returns: [.int])
        XCTAssertEqual(single(small), .int(7))
        let big = try await callOnce(source, returns: [.int], function: "big")
        XCTAssertEqual(single(big), .bigInt("1180591620717411303424"))
    }

    func testBoolsFloatsAndTextAreNotInts() async throws {
        for body in ["True", "1.0", "'1'", "[1]"] {
            let outcome = try await callOnce("def f():\n    return \(body)\n", returns: [.int])
            guard case .badReturn(let message) = outcome else { return XCTFail("\(body) was accepted as an int: \(outcome)") }
            XCTAssertTrue(message.contains("expected int"), message)
        }
    }

    func testRealNumbersWithFloatAreFloats() async throws {
        let decimal = try await callOnce("from decimal import Decimal\ndef f():\n    return Decimal('2.5')\n", returns: [.float])
        XCTAssertEqual(single(decimal), .float(2.5))
        let fraction = try await callOnce("from fractions import Fraction\ndef f():\n    return Fraction(1, 4)\n", returns: [.float])
        XCTAssertEqual(single(fraction), .float(0.25))
        let custom = try await callOnce(
            "class Meters:\n    def __float__(self): return 3.5\n\ndef f():\n    return [Meters(), 1]\n", returns: [.list(.float)])
        XCTAssertEqual(single(custom), [3.5, 1.0])
    }

    func testBoolsTextAndComplexAreNotFloats() async throws {
        for body in ["True", "'1.5'", "b'1.5'", "1 + 2j", "complex(1, 0)"] {
            let outcome = try await callOnce("def f():\n    return \(body)\n", returns: [.float])
            guard case .badReturn(let message) = outcome else { return XCTFail("\(body) was accepted as a float: \(outcome)") }
            XCTAssertTrue(message.contains("expected float"), message)
        }
        // A complex number that is no subclass of complex but registers as numbers.Complex.
        let registered = """
            import numbers
            class Z:
                def __float__(self): return 1.0
            numbers.Complex.register(Z)
            def f():
                return Z()
            """
        guard case .badReturn = try await callOnce(registered, returns: [.float]) else { return XCTFail("a numbers.Complex was taken as a float") }
    }

    func testIterablesAreLists() async throws {
        let cases: [(String, JSONValue)] = [
            ("range(4)", [0, 1, 2, 3]),
            ("(x * x for x in range(3))", [0, 1, 4]),
            ("iter([5, 6])", [5, 6]),
            ("sorted({3, 1, 2})", [1, 2, 3]),
            ("{7}", [7]),
            ("(i for i in ())", []),
        ]
        for (body, expected) in cases {
            let outcome = try await callOnce("def f():\n    return \(body)\n", returns: [.list(.int)])
            XCTAssertEqual(single(outcome), expected, body)
        }
        let nested = try await callOnce("def f():\n    return (range(i) for i in range(3))\n", returns: [.list(.list(.int))])
        XCTAssertEqual(single(nested), [[], [0], [0, 1]])
    }

    func testTextBytesAndMappingsAreNotLists() async throws {
        for body in ["'abc'", "b'abc'", "bytearray(b'ab')", "{'a': 1}", "5"] {
            let outcome = try await callOnce("def f():\n    return \(body)\n", returns: [.list(.int)])
            guard case .badReturn(let message) = outcome else { return XCTFail("\(body) was accepted as a list: \(outcome)") }
            XCTAssertTrue(message.contains("expected List[int]"), message)
        }
    }

    func testAnIterableThatRaisesSaysSo() async throws {
        let outcome = try await callOnce(
            "def gen():\n    yield 1\n    raise ValueError('sensor offline')\n\ndef f():\n    return gen()\n", returns: [.list(.int)])
        guard case .badReturn(let message) = outcome else { return XCTFail("\(outcome)") }
        XCTAssertTrue(message.contains("ValueError: sensor offline"), message)
    }

    func testStrSubclassesAreStr() async throws {
        let outcome = try await callOnce("class Name(str):\n    pass\n\ndef f():\n    return Name('ada')\n", returns: [.str])
        XCTAssertEqual(single(outcome), "ada")
    }

    func testArgumentsStayPlainPythonTypes() async throws {
        let outcome = try await callOnce(
            "def f(a, b, c, d):\n    return ','.join(type(v).__name__ for v in (a, b, c, d))\n",
            [3, 2.5, "s", [1, 2]], types: [.int, .float, .str, .list(.int)], returns: [.str])
        XCTAssertEqual(single(outcome), "int,float,str,list")
    }
}
