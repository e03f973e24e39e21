import XCTest
@testable import PyRPCPython
import PyRPCWire

final class IntegerConversionTests: XCTestCase {
    func testIntsRoundTrip() async throws {
        let values: [JSONValue] = [
            .int(0), .int(-1), .int(1), .int(Int.max), .int(Int.min),
            .bigInt("1267650600228229401496703205376"), .bigInt("-1267650600228229401496703205376"),
            .bigInt("9223372036854775808"), .bigInt("-9223372036854775809"),
        ]
        for value in values {
            let back = try await echo(value, .int)
            XCTAssertEqual(back, value)
        }
    }

    func testPythonSeesRealInts() async throws {
        let source = "def f(x):\n    return type(x).__name__ + ':' + str(x) + ':' + str(x + 1)\n"
        let big = try await callOnce(source, [.bigInt("1267650600228229401496703205376")], types: [.int], returns: [.str])
        XCTAssertEqual(single(big), .string("int:1267650600228229401496703205376:1267650600228229401496703205377"))
        let max = try await callOnce(source, [.int(Int.max)], types: [.int], returns: [.str])
        XCTAssertEqual(single(max), .string("int:9223372036854775807:9223372036854775808"))
    }

    func testResultsBeyondInt64BecomeBigInts() async throws {
        let source = "def f(x):\n    return x * 2\n"
        let result = try await callOnce(source, [.int(1 << 62)], types: [.int], returns: [.int])
        XCTAssertEqual(single(result), .bigInt("9223372036854775808"))
        let power = try await callOnce("def f():\n    return 2 ** 100\n", returns: [.int])
        XCTAssertEqual(single(power), .bigInt("1267650600228229401496703205376"))
        let negative = try await callOnce("def f():\n    return -(2 ** 63)\n", returns: [.int])
        XCTAssertEqual(single(negative), .int(Int.min))
        let justOver = try await callOnce("def f():\n    return -(2 ** 63) - 1\n", returns: [.int])
        XCTAssertEqual(single(justOver), .bigInt("-9223372036854775809"))
    }
}

final class FloatConversionTests: XCTestCase {
    func testFiniteFloatsRoundTripExactly() async throws {
        for value in [0.0, 1.5, -2.25, 0.1, 1e-300, 1e308, .leastNonzeroMagnitude, .greatestFiniteMagnitude] {
            guard case .float(let back)? = try await echo(.float(value), .float) else { return XCTFail("\(value)") }
            XCTAssertEqual(back.bitPattern, value.bitPattern, "\(value)")
        }
    }

    func testNegativeZeroKeepsItsSign() async throws {
        guard case .float(let back)? = try await echo(.float(-0.0), .float) else { return XCTFail() }
        XCTAssertEqual(back.sign, .minus)
        let sign = try await callOnce(
            "import math\ndef f(x):\n    return math.copysign(1.0, x)\n", [.float(-0.0)], types: [.float], returns: [.float])
        XCTAssertEqual(single(sign), .float(-1.0))
    }

    func testNonFiniteFloats() async throws {
        guard case .float(let nan)? = try await echo(.float(.nan), .float) else { return XCTFail() }
        XCTAssertTrue(nan.isNaN)
        let inf = try await echo(.float(.infinity), .float)
        XCTAssertEqual(inf, .float(.infinity))
        let minusInf = try await echo(.float(-.infinity), .float)
        XCTAssertEqual(minusInf, .float(-.infinity))
        let made = try await callOnce(
            "def f():\n    return [float('nan'), float('inf'), float('-inf')]\n", returns: [.list(.float)])
        guard case .array(let items)? = single(made), items.count == 3, case .float(let first) = items[0] else { return XCTFail("\(made)") }
        XCTAssertTrue(first.isNaN)
        XCTAssertEqual(Array(items.dropFirst()), [.float(.infinity), .float(-.infinity)])
    }

    func testIntArgumentForFloatArrivesAsFloat() async throws {
        let outcome = try await callOnce(
            "def f(x):\n    return type(x).__name__ + ' ' + repr(x)\n", [.int(3)], types: [.float], returns: [.str])
        XCTAssertEqual(single(outcome), .string("float 3.0"))
    }

    func testIntReturnedForFloatIsConverted() async throws {
        let outcome = try await callOnce("def f():\n    return 3\n", returns: [.float])
        guard case .float(let value)? = single(outcome) else { return XCTFail("\(outcome)") }
        XCTAssertEqual(value, 3.0)
        let big = try await callOnce("def f():\n    return 2 ** 100\n", returns: [.float])
        XCTAssertEqual(single(big), .float(1.2676506002282294e30))
        let tooBig = try await callOnce("def f():\n    return 2 ** 2000\n", returns: [.float])
        XCTAssertEqual(tooBig, .badReturn("the return value is an int too large for a float, expected float"))
        let boolean = try await callOnce("def f():\n    return True\n", returns: [.float])
        XCTAssertEqual(boolean, .badReturn("the return value is bool True, expected float"))
    }
}

final class StringConversionTests: XCTestCase {
    func testUnicodeStringsRoundTrip() async throws {
        for text in ["", "hello", "straße", "😀", "日本語", "a\u{0}b", "line\nbreak", "\u{10FFFF}", "é\u{301}"] {
            let back = try await echo(.string(text), .str)
            XCTAssertEqual(back, .string(text), text.debugDescription)
        }
    }

    func testPythonSeesCodePoints() async throws {
        let source = "def f(s):\n    return len(s)\n"
        for (text, length) in [("😀", 1), ("straße", 6), ("a\u{0}b", 3), ("", 0), ("日本語", 3)] {
            let outcome = try await callOnce(source, [.string(text)], types: [.str], returns: [.int])
            XCTAssertEqual(single(outcome), .int(length), text.debugDescription)
        }
        let upper = try await callOnce("def f(s):\n    return s.upper()\n", ["straße"], types: [.str], returns: [.str])
        XCTAssertEqual(single(upper), "STRASSE")
    }

    func testLoneSurrogateCannotBeReturned() async throws {
        let outcome = try await callOnce(#"def f():\#n    return "a\ud800""#, returns: [.str])
        XCTAssertEqual(outcome, .badReturn("the return value is a str with lone surrogates (not valid Unicode text), expected str"))
    }
}

final class BoolAndMismatchTests: XCTestCase {
    func testBoolsRoundTrip() async throws {
        let t = try await echo(.bool(true), .bool)
        XCTAssertEqual(t, .bool(true))
        let f = try await echo(.bool(false), .bool)
        XCTAssertEqual(f, .bool(false))
        let type = try await callOnce("def f(b):\n    return type(b) is bool and b\n", [true], types: [.bool], returns: [.bool])
        XCTAssertEqual(single(type), .bool(true))
    }

    func testBoolIsNotReturnedAsInt() async throws {
        let outcome = try await callOnce("def f():\n    return True\n", returns: [.int])
        XCTAssertEqual(outcome, .badReturn("the return value is bool True, expected int"))
    }

    func testIntIsNotReturnedAsBool() async throws {
        let outcome = try await callOnce("def f():\n    return 1\n", returns: [.bool])
        XCTAssertEqual(outcome, .badReturn("the return value is int 1, expected bool"))
    }

    func testOtherReturnMismatches() async throws {
        let none = try await callOnce("def f():\n    pass\n", returns: [.int])
        XCTAssertEqual(none, .badReturn("the return value is NoneType None, expected int"))
        let str = try await callOnce("def f():\n    return '5'\n", returns: [.int])
        XCTAssertEqual(str, .badReturn("the return value is str '5', expected int"))
        let int = try await callOnce("def f():\n    return 5\n", returns: [.str])
        XCTAssertEqual(int, .badReturn("the return value is int 5, expected str"))
        let float = try await callOnce("def f():\n    return 2.0\n", returns: [.int])
        XCTAssertEqual(float, .badReturn("the return value is float 2.0, expected int"))
        let dict = try await callOnce("def f():\n    return {'a': 1}\n", returns: [.list(.int)])
        XCTAssertEqual(dict, .badReturn("the return value is dict {'a': 1}, expected List[int]"))
        let long = try await callOnce("def f():\n    return 'x' * 100\n", returns: [.int])
        XCTAssertEqual(long, .badReturn("the return value is str '" + String(repeating: "x", count: 36) + "..., expected int"))
    }
}

final class ListConversionTests: XCTestCase {
    func testNestedAndEmptyListsRoundTrip() async throws {
        let cases: [(JSONValue, RPCType)] = [
            ([], .list(.int)),
            ([1, 2, 3], .list(.int)),
            (["a", "é", ""], .list(.str)),
            ([[1.5, -0.5], [], [3.0]], .list(.list(.float))),
            ([[[true]], [[false, true]]], .list(.list(.list(.bool)))),
            ([.bigInt("99999999999999999999"), 0], .list(.int)),
        ]
        for (value, type) in cases {
            let back = try await echo(value, type)
            XCTAssertEqual(back, value, "\(type)")
        }
    }

    func testArgumentsArriveAsLists() async throws {
        let outcome = try await callOnce(
            "def f(m):\n    return type(m).__name__ + type(m[0]).__name__ + str(sum(map(sum, m)))\n",
            [[[1.0, 2.0], [3.5]]], types: [.list(.list(.float))], returns: [.str])
        XCTAssertEqual(single(outcome), "listlist6.5")
    }

    func testTuplesAreAcceptedForLists() async throws {
        let outcome = try await callOnce("def f():\n    return (1, 2, 3)\n", returns: [.list(.int)])
        XCTAssertEqual(single(outcome), [1, 2, 3])
        let nested = try await callOnce("def f():\n    return ([1.0], (2, 3.5))\n", returns: [.list(.list(.float))])
        XCTAssertEqual(single(nested), [[1.0], [2.0, 3.5]])
        let empty = try await callOnce("def f():\n    return ()\n", returns: [.list(.str)])
        XCTAssertEqual(single(empty), [])
    }

    func testElementMismatchNamesThePath() async throws {
        let flat = try await callOnce("def f():\n    return [1, 2, 'x']\n", returns: [.list(.int)])
        XCTAssertEqual(flat, .badReturn("element 2 of the return value is str 'x', expected int"))
        let nested = try await callOnce("def f():\n    return [[1], [2, True]]\n", returns: [.list(.list(.int))])
        XCTAssertEqual(nested, .badReturn("element 1 of element 1 of the return value is bool True, expected int"))
        let notList = try await callOnce("def f():\n    return 'abc'\n", returns: [.list(.str)])
        XCTAssertEqual(notList, .badReturn("the return value is str 'abc', expected List[str]"))
        let mapping = try await callOnce("def f():\n    return {1: 2}\n", returns: [.list(.int)])
        XCTAssertEqual(mapping, .badReturn("the return value is dict {1: 2}, expected List[int]"))
        let inIterable = try await callOnce("def f():\n    return iter([1, 'x'])\n", returns: [.list(.int)])
        XCTAssertEqual(inIterable, .badReturn("element 1 of the return value is str 'x', expected int"))
    }
}

final class ReturnShapeTests: XCTestCase {
    func testMultipleReturnValues() async throws {
        let tuple = try await callOnce("def f(a, b):\n    return a + b, str(a * b)\n", [2, 3], types: [.int, .int], returns: [.int, .str])
        XCTAssertEqual(tuple, .returned([5, "6"]))
        let list = try await callOnce("def f():\n    return [1.5, [True]]\n", returns: [.float, .list(.bool)])
        XCTAssertEqual(list, .returned([1.5, [true]]))
    }

    func testWrongNumberOfReturnValues() async throws {
        let three = try await callOnce("def f():\n    return 1, 2, 3\n", returns: [.int, .int])
        XCTAssertEqual(three, .badReturn("it returned 3 values, but it declares 2 return values"))
        let one = try await callOnce("def f():\n    return 5\n", returns: [.int, .int])
        XCTAssertEqual(one, .badReturn("it returned int, but it declares 2 return values (return a tuple)"))
        let second = try await callOnce("def f():\n    return 1, 5\n", returns: [.int, .str])
        XCTAssertEqual(second, .badReturn("return value 2 is int 5, expected str"))
    }

    func testNoReturnTypesRequiresNone() async throws {
        let none = try await callOnce("def f():\n    pass\n", returns: [])
        XCTAssertEqual(none, .returned([]))
        let explicit = try await callOnce("def f(x):\n    return None\n", [1], types: [.int], returns: [])
        XCTAssertEqual(explicit, .returned([]))
        let value = try await callOnce("def f():\n    return 1\n", returns: [])
        XCTAssertEqual(value, .badReturn("it returned int, but it declares no return values and must return None"))
    }

    func testSeveralArgumentsOfMixedTypes() async throws {
        let outcome = try await callOnce(
            "def f(i, x, s, b, l):\n    return f'{i}|{x}|{s}|{b}|{l}'\n",
            [7, 2.5, "s", false, [[1], []]], types: [.int, .float, .str, .bool, .list(.list(.int))], returns: [.str])
        XCTAssertEqual(single(outcome), "7|2.5|s|False|[[1], []]")
    }
}
