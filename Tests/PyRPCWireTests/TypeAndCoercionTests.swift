import XCTest
@testable import PyRPCWire

final class RPCTypeTests: XCTestCase {
    func testScalarTypes() throws {
        XCTAssertEqual(try RPCType(parsing: "int"), .int)
        XCTAssertEqual(try RPCType(parsing: "float"), .float)
        XCTAssertEqual(try RPCType(parsing: "str"), .str)
        XCTAssertEqual(try RPCType(parsing: "bool"), .bool)
    }

    func testListsAndAlias() throws {
        XCTAssertEqual(try RPCType(parsing: "List[int]"), .list(.int))
        XCTAssertEqual(try RPCType(parsing: "list[str]"), .list(.str))
        XCTAssertEqual(try RPCType(parsing: "List[List[float]]"), .list(.list(.float)))
        XCTAssertEqual(try RPCType(parsing: "list[List[list[bool]]]"), .list(.list(.list(.bool))))
        XCTAssertEqual(try RPCType(parsing: "list[int]").description, "List[int]")
        XCTAssertEqual(try RPCType(parsing: "list[list[float]]").description, "List[List[float]]")
    }

    func testWhitespaceIsAllowedAroundTokens() throws {
        XCTAssertEqual(try RPCType(parsing: "  int  "), .int)
        XCTAssertEqual(try RPCType(parsing: "List [ int ]"), .list(.int))
        XCTAssertEqual(try RPCType(parsing: "\tList[\tList[ str ] ]\t"), .list(.list(.str)))
    }

    func testDescriptionRoundTrips() throws {
        let types: [RPCType] = [.int, .float, .str, .bool, .list(.int), .list(.list(.float)), .list(.list(.list(.str)))]
        for type in types {
            XCTAssertEqual(try RPCType(parsing: type.description), type)
        }
        XCTAssertEqual(RPCType.list(.list(.float)).description, "List[List[float]]")
    }

    func testErrors() {
        func reason(_ text: String) -> String? {
            do {
                let type = try RPCType(parsing: text)
                XCTFail("\(text) parsed as \(type)")
                return nil
            } catch {
                XCTAssertEqual(error.text, text)
                return error.reason
            }
        }
        XCTAssertEqual(reason(""), "expected a type name")
        XCTAssertEqual(reason("   "), "expected a type name")
        XCTAssertEqual(reason("integer"), "unknown type 'integer'")
        XCTAssertEqual(reason("Int"), "unknown type 'Int'")
        XCTAssertEqual(reason("Dict[str]"), "unknown type 'Dict'")
        XCTAssertEqual(reason("List"), "List needs an element type, as in List[int]")
        XCTAssertEqual(reason("list"), "list needs an element type, as in List[int]")
        XCTAssertEqual(reason("List(int)"), "List needs an element type, as in List[int]")
        XCTAssertEqual(reason("List["), "expected a type name")
        XCTAssertEqual(reason("List[]"), "expected a type name")
        XCTAssertEqual(reason("List[int"), "missing ']'")
        XCTAssertEqual(reason("List[int, str]"), "missing ']'")
        XCTAssertEqual(reason("List[int]]"), "unexpected text after the type")
        XCTAssertEqual(reason("int int"), "unexpected text after the type")
        XCTAssertEqual(reason("int\n"), "unexpected text after the type")
        XCTAssertEqual(reason("List[Lis[int]]"), "unknown type 'Lis'")
    }

    func testErrorDescription() {
        let error = RPCTypeError(text: "integer", reason: "unknown type 'integer'")
        XCTAssertEqual(
            error.description,
            "'integer' is not a valid type (unknown type 'integer'); valid types are int, float, str, bool and List[T]")
    }

    func testParseAll() throws {
        XCTAssertEqual(try RPCType.parseAll(["int", "List[str]", "list[float]"]), [.int, .list(.str), .list(.float)])
        XCTAssertEqual(try RPCType.parseAll([]), [])
        XCTAssertThrowsError(try RPCType.parseAll(["int", "x", "List["])) { error in
            XCTAssertEqual((error as? RPCTypeError)?.text, "x")
        }
    }

    func testHashableDistinguishesNesting() {
        let set: Set<RPCType> = [.int, .list(.int), .list(.list(.int)), .int, .list(.int)]
        XCTAssertEqual(set.count, 3)
    }

    func testSignatureDescription() {
        XCTAssertEqual(Signature(arguments: [.int, .int], returns: [.int]).description, "(int, int) -> (int)")
        XCTAssertEqual(Signature(arguments: [], returns: []).description, "() -> ()")
        XCTAssertEqual(
            Signature(arguments: [.list(.list(.float)), .str], returns: [.bool, .float]).description,
            "(List[List[float]], str) -> (bool, float)")
        XCTAssertEqual(Signature(arguments: [.int], returns: [.int]), Signature(arguments: [.int], returns: [.int]))
        XCTAssertNotEqual(Signature(arguments: [.int], returns: [.int]), Signature(arguments: [.int], returns: [.float]))
    }
}

final class ValueCoercionTests: XCTestCase {
    func testCanonicalValuesPassThrough() throws {
        XCTAssertEqual(try ValueCoercion.coerce(.int(5), to: .int), .int(5))
        XCTAssertEqual(try ValueCoercion.coerce(.bigInt("1267650600228229401496703205376"), to: .int), .bigInt("1267650600228229401496703205376"))
        XCTAssertEqual(try ValueCoercion.coerce(.float(2.5), to: .float), .float(2.5))
        XCTAssertEqual(try ValueCoercion.coerce(.string("hi"), to: .str), .string("hi"))
        XCTAssertEqual(try ValueCoercion.coerce(.bool(false), to: .bool), .bool(false))
        XCTAssertEqual(try ValueCoercion.coerce([[1, 2], []], to: .list(.list(.int))), [[1, 2], []])
        XCTAssertEqual(try ValueCoercion.coerce([], to: .list(.str)), [])
    }

    func testIntIsAcceptedAsFloat() throws {
        XCTAssertEqual(try ValueCoercion.coerce(.int(3), to: .float), .float(3.0))
        XCTAssertEqual(try ValueCoercion.coerce(.int(-7), to: .float), .float(-7.0))
        XCTAssertEqual(try ValueCoercion.coerce(.bigInt("1267650600228229401496703205376"), to: .float), .float(1.2676506002282294e30))
        XCTAssertEqual(try ValueCoercion.coerce([1, 2.5, 3], to: .list(.float)), [1.0, 2.5, 3.0])
        XCTAssertEqual(try ValueCoercion.coerce([[1], [2.5]], to: .list(.list(.float))), [[1.0], [2.5]])
    }

    func testStringsAreDecodedByTheirDeclaredType() throws {
        XCTAssertEqual(try ValueCoercion.coerce("42", to: .int), .int(42))
        XCTAssertEqual(try ValueCoercion.coerce(" -7 ", to: .int), .int(-7))
        XCTAssertEqual(try ValueCoercion.coerce("123456789012345678901234567890", to: .int), .bigInt("123456789012345678901234567890"))
        XCTAssertEqual(try ValueCoercion.coerce("2.5", to: .float), .float(2.5))
        XCTAssertEqual(try ValueCoercion.coerce("3", to: .float), .float(3.0))
        XCTAssertEqual(try ValueCoercion.coerce("true", to: .bool), .bool(true))
        XCTAssertEqual(try ValueCoercion.coerce("True", to: .bool), .bool(true))
        XCTAssertEqual(try ValueCoercion.coerce("False", to: .bool), .bool(false))
        XCTAssertEqual(try ValueCoercion.coerce("[1, 2]", to: .list(.int)), [1, 2])
        XCTAssertEqual(try ValueCoercion.coerce("[]", to: .list(.int)), [])
        XCTAssertEqual(try ValueCoercion.coerce("['a', 'b']", to: .list(.str)), ["a", "b"])
        XCTAssertEqual(try ValueCoercion.coerce(#"["a", "b"]"#, to: .list(.str)), ["a", "b"])
        XCTAssertEqual(try ValueCoercion.coerce("[[1.5], [2]]", to: .list(.list(.float))), [[1.5], [2.0]])
        XCTAssertEqual(try ValueCoercion.coerce("[True, False]", to: .list(.bool)), [true, false])
        XCTAssertEqual(try ValueCoercion.coerce(["1", "2"], to: .list(.int)), [1, 2])
    }

    func testSpecialFloatStrings() throws {
        for text in ["nan", "NaN", "NAN", " nan ", "+nan", "-nan"] {
            guard case .float(let value) = try ValueCoercion.coerce(.string(text), to: .float) else { return XCTFail(text) }
            XCTAssertTrue(value.isNaN, text)
        }
        for text in ["inf", "Infinity", "+inf", "INF", " inf"] {
            XCTAssertEqual(try ValueCoercion.coerce(.string(text), to: .float), .float(.infinity), text)
        }
        for text in ["-inf", "-Infinity", "-INF"] {
            XCTAssertEqual(try ValueCoercion.coerce(.string(text), to: .float), .float(-.infinity), text)
        }
        guard case .array(let items) = try ValueCoercion.coerce(["nan", 1, "-inf"], to: .list(.float)), items.count == 3,
            case .float(let first) = items[0]
        else { return XCTFail() }
        XCTAssertTrue(first.isNaN)
        XCTAssertEqual(items[1], .float(1))
        XCTAssertEqual(items[2], .float(-.infinity))
        XCTAssertNotNil(mismatch("nan", .int))
        XCTAssertNotNil(mismatch("inf", .list(.int)))
    }

    func testNegativeZeroStringKeepsSign() throws {
        guard case .float(let value) = try ValueCoercion.coerce("-0.0", to: .float) else { return XCTFail() }
        XCTAssertEqual(value.sign, .minus)
    }

    func testStrIsNeverDecoded() throws {
        XCTAssertEqual(try ValueCoercion.coerce("42", to: .str), .string("42"))
        XCTAssertEqual(try ValueCoercion.coerce("[1, 2]", to: .str), .string("[1, 2]"))
        XCTAssertEqual(try ValueCoercion.coerce("  padded  ", to: .str), .string("  padded  "))
        XCTAssertEqual(try ValueCoercion.coerce(["1", "x"], to: .list(.str)), ["1", "x"])
    }

    func testBoolIsNotAnInt() {
        XCTAssertEqual(mismatch(.bool(true), .int), "argument 1 is a boolean true, expected int")
        XCTAssertEqual(mismatch(.bool(false), .float), "argument 1 is a boolean false, expected float")
        XCTAssertEqual(mismatch(.int(1), .bool), "argument 1 is an integer 1, expected bool")
        XCTAssertEqual(mismatch(.int(0), .bool, path: "argument 3"), "argument 3 is an integer 0, expected bool")
        XCTAssertNotNil(mismatch("1", .bool))
        XCTAssertNotNil(mismatch("True", .int))
    }

    func testIntIsNotAStr() {
        XCTAssertEqual(mismatch(.int(5), .str, path: "argument 2"), "argument 2 is an integer 5, expected str")
        XCTAssertEqual(mismatch(.float(1.5), .str), "argument 1 is a number 1.5, expected str")
        XCTAssertEqual(mismatch(.bool(true), .str), "argument 1 is a boolean true, expected str")
        XCTAssertEqual(mismatch([1], .str), "argument 1 is a list [1], expected str")
    }

    func testFloatIsNotAnInt() {
        XCTAssertEqual(mismatch(.float(2.0), .int), "argument 1 is a number 2.0, expected int")
        XCTAssertNotNil(mismatch("2.5", .int))
        XCTAssertNotNil(mismatch("2.0", .int))
    }

    func testOtherMismatches() {
        XCTAssertEqual(mismatch(.null, .int), "argument 1 is null, expected int")
        XCTAssertEqual(mismatch(.object(["a": 1]), .list(.int)), #"argument 1 is an object {"a":1}, expected List[int]"#)
        XCTAssertEqual(mismatch(.int(3), .list(.int)), "argument 1 is an integer 3, expected List[int]")
        XCTAssertEqual(mismatch("abc", .int), #"argument 1 is a string "abc", expected int"#)
        XCTAssertEqual(mismatch("[1, 2", .list(.int)), #"argument 1 is a string "[1, 2", expected List[int]"#)
        XCTAssertEqual(mismatch("", .int), #"argument 1 is a string "", expected int"#)
        // A string inside a string is not unwrapped twice.
        XCTAssertEqual(mismatch(#""42""#, .int), #"argument 1 is a string "\"42\"", expected int"#)
        XCTAssertEqual(mismatch("'42'", .int), #"argument 1 is a string "'42'", expected int"#)
    }

    func testNestedMismatchNamesThePath() {
        XCTAssertEqual(mismatch([1, true], .list(.int)), "element 1 of argument 1 is a boolean true, expected int")
        XCTAssertEqual(mismatch([1, 2, "x"], .list(.int), path: "argument 2"), #"element 2 of argument 2 is a string "x", expected int"#)
        XCTAssertEqual(
            mismatch([[1], [2, "x"]], .list(.list(.int))), #"element 1 of element 1 of argument 1 is a string "x", expected int"#)
        XCTAssertEqual(mismatch([[1], 2], .list(.list(.int))), "element 1 of argument 1 is an integer 2, expected List[int]")
        XCTAssertEqual(mismatch(["a", 1], .list(.str)), "element 1 of argument 1 is an integer 1, expected str")
        XCTAssertEqual(mismatch("[1, true]", .list(.int)), "element 1 of argument 1 is a boolean true, expected int")
    }

    func testMismatchWithoutPath() {
        XCTAssertThrowsError(try ValueCoercion.coerce(.bool(true), to: .int)) { error in
            let mismatch = error as? ValueMismatch
            XCTAssertEqual(mismatch, ValueMismatch(path: [], expected: .int, found: "a boolean true"))
        }
    }

    func testDescribeShortensLongValues() {
        let long = String(repeating: "a", count: 100)
        let described = ValueCoercion.describe(.string(long))
        XCTAssertEqual(described, "a string \"" + String(repeating: "a", count: 36) + "...")
        XCTAssertEqual(ValueCoercion.describe(.int(5)), "an integer 5")
        XCTAssertEqual(ValueCoercion.describe(.null), "null")
        XCTAssertEqual(ValueCoercion.describe(.bigInt("99999999999999999999")), "an integer 99999999999999999999")
    }

    func testIsCanonical() {
        XCTAssertTrue(ValueCoercion.isCanonical(.int(1), for: .int))
        XCTAssertTrue(ValueCoercion.isCanonical(.bigInt("99999999999999999999"), for: .int))
        XCTAssertTrue(ValueCoercion.isCanonical([[1.5]], for: .list(.list(.float))))
        XCTAssertTrue(ValueCoercion.isCanonical([], for: .list(.str)))
        XCTAssertFalse(ValueCoercion.isCanonical(.int(1), for: .float))
        XCTAssertFalse(ValueCoercion.isCanonical("1", for: .int))
        XCTAssertFalse(ValueCoercion.isCanonical([1, "2"], for: .list(.int)))
        XCTAssertFalse(ValueCoercion.isCanonical(.bool(true), for: .int))
    }
}
