import Foundation
import XCTest
@testable import PyRPCWire

final class JSONParserNumberTests: XCTestCase {
    func testZeroAndNegativeZeroInteger() throws {
        XCTAssertEqual(try JSONParser.parse("0"), .int(0))
        // An integer -0 is just 0 (Python's int has no negative zero).
        XCTAssertEqual(try JSONParser.parse("-0"), .int(0))
        XCTAssertEqual(try JSONParser.parse("  7 "), .int(7))
        XCTAssertEqual(try JSONParser.parse("-42"), .int(-42))
    }

    func testInt64Boundaries() throws {
        XCTAssertEqual(try JSONParser.parse("9223372036854775807"), .int(Int.max))
        XCTAssertEqual(try JSONParser.parse("-9223372036854775808"), .int(Int.min))
        XCTAssertEqual(try JSONParser.parse("9223372036854775808"), .bigInt("9223372036854775808"))
        XCTAssertEqual(try JSONParser.parse("-9223372036854775809"), .bigInt("-9223372036854775809"))
        XCTAssertEqual(try JSONParser.parse("1000000000000000000"), .int(1_000_000_000_000_000_000))
        XCTAssertEqual(try JSONParser.parse("9999999999999999999"), .bigInt("9999999999999999999"))
    }

    func testBigIntegersKeepTheirDigits() throws {
        XCTAssertEqual(try JSONParser.parse("18446744073709551616"), .bigInt("18446744073709551616"))  // 2**64
        XCTAssertEqual(try JSONParser.parse("18446744073709551615"), .bigInt("18446744073709551615"))  // 2**64-1
        XCTAssertEqual(
            try JSONParser.parse("1267650600228229401496703205376"), .bigInt("1267650600228229401496703205376"))  // 2**100
        XCTAssertEqual(
            try JSONParser.parse("-1267650600228229401496703205376"), .bigInt("-1267650600228229401496703205376"))
        let huge = "1" + String(repeating: "0", count: 400)
        XCTAssertEqual(try JSONParser.parse(huge), .bigInt(huge))
        XCTAssertEqual(try JSONParser.parse("[\(huge), -\(huge)]"), .array([.bigInt(huge), .bigInt("-" + huge)]))
    }

    func testFloats() throws {
        XCTAssertEqual(try JSONParser.parse("1e308"), .float(1e308))
        XCTAssertEqual(try JSONParser.parse("1.5e-7"), .float(1.5e-7))
        XCTAssertEqual(try JSONParser.parse("2.5"), .float(2.5))
        XCTAssertEqual(try JSONParser.parse("-2.5"), .float(-2.5))
        XCTAssertEqual(try JSONParser.parse("1E2"), .float(100))
        XCTAssertEqual(try JSONParser.parse("1e+2"), .float(100))
        XCTAssertEqual(try JSONParser.parse("125e-2"), .float(1.25))
        XCTAssertEqual(try JSONParser.parse("1.7976931348623157e308"), .float(.greatestFiniteMagnitude))
        XCTAssertEqual(try JSONParser.parse("2.2250738585072014e-308"), .float(.leastNormalMagnitude))
        XCTAssertEqual(try JSONParser.parse("5e-324"), .float(.leastNonzeroMagnitude))
        XCTAssertEqual(try JSONParser.parse("1e-22"), .float(1e-22))
        XCTAssertEqual(try JSONParser.parse("1e23"), .float(1e23))
        XCTAssertEqual(try JSONParser.parse("0.0000000000000000000000000001"), .float(1e-28))
    }

    func testIntegralFloatsStayFloats() throws {
        XCTAssertEqual(try JSONParser.parse("1.0"), .float(1.0))
        XCTAssertEqual(try JSONParser.parse("1e0"), .float(1.0))
        XCTAssertEqual(try JSONParser.parse("0.0"), .float(0.0))
        XCTAssertEqual(try JSONParser.parse("100000000000000000000.0"), .float(1e20))
    }

    func testNegativeZeroFloatKeepsItsSign() throws {
        for text in ["-0.0", "-0e0", "-0.0e-5", "-0E+3"] {
            guard case .float(let value) = try JSONParser.parse(text) else { return XCTFail(text) }
            XCTAssertEqual(value, 0, text)
            XCTAssertEqual(value.sign, .minus, text)
        }
        guard case .float(let positive) = try JSONParser.parse("0.0") else { return XCTFail() }
        XCTAssertEqual(positive.sign, .plus)
    }

    func testDecimalFractionsAreCorrectlyRounded() throws {
        let cases: [(String, Double)] = [
            ("0.1", 0.1), ("0.2", 0.2), ("0.3", 0.3), ("0.30000000000000004", 0.1 + 0.2),
            ("3.141592653589793", .pi), ("3.14159265358979323846264338327950288", .pi),
            ("2.718281828459045", 2.718281828459045), ("1.1", 1.1), ("123456.789", 123456.789),
            ("9007199254740993", 9007199254740992),  // an integer literal: stays an int (as a Double, 2**53)
            ("9007199254740993.0", 9007199254740992.0),  // 2**53+1 rounds to even
            ("123456789012345678901234567890.5", 1.2345678901234568e29),
            ("0.000001", 1e-6), ("4.9406564584124654e-324", .leastNonzeroMagnitude),
        ]
        for (text, expected) in cases {
            let value = try JSONParser.parse(text)
            if case .int(let i) = value {
                XCTAssertEqual(Double(i), expected, text)
                continue
            }
            guard case .float(let parsed) = value else { XCTFail("\(text) -> \(value)"); continue }
            XCTAssertEqual(parsed.bitPattern, expected.bitPattern, "\(text) -> \(parsed), expected \(expected)")
        }
    }

    func testRandomDoublesRoundTripBitExactly() throws {
        var generator = SeededGenerator(seed: 0x5EED)
        var checked = 0
        while checked < 5000 {
            let value = Double(bitPattern: generator.next())
            guard value.isFinite else { continue }
            checked += 1
            let text = JSONValue.float(value).jsonText
            guard case .float(let parsed) = try JSONParser.parse(text) else {
                return XCTFail("\(value) was written as \(text), which does not parse as a float")
            }
            XCTAssertEqual(parsed.bitPattern, value.bitPattern, "\(value) written as \(text) parsed back as \(parsed)")
        }
        // Values of everyday magnitudes too, where the fast path is taken.
        for _ in 0..<5000 {
            let value = Double.random(in: -1e6...1e6, using: &generator)
            let text = JSONValue.float(value).jsonText
            guard case .float(let parsed) = try JSONParser.parse(text) else { return XCTFail(text) }
            XCTAssertEqual(parsed.bitPattern, value.bitPattern, text)
            // Also through a 17-significant-digit spelling, as other writers (Python's repr of old) produce.
            let seventeen = String(format: "%.16e", value)
            guard case .float(let again) = try JSONParser.parse(seventeen) else { return XCTFail(seventeen) }
            XCTAssertEqual(again.bitPattern, value.bitPattern, seventeen)
        }
    }

    func testNumberSyntaxErrors() {
        for text in ["01", "-01", "1.", ".5", "+1", "-", "1e", "1e+", "1E-", "0x10", "--1", "1.e5", "NaN", "Infinity", "-Infinity", "1_000", "[01]"] {
            XCTAssertNotNil(parseError(text), text)
        }
        XCTAssertEqual(parseError("1.")?.reason, "expected a digit after the decimal point")
        XCTAssertEqual(parseError("1e")?.reason, "expected a digit in the exponent")
        XCTAssertEqual(parseError("-")?.reason, "expected a digit")
        XCTAssertEqual(parseError("01")?.reason, "unexpected text after the JSON value")
        XCTAssertEqual(parseError("01")?.offset, 1)
    }
}

final class JSONParserStringTests: XCTestCase {
    func testSimpleEscapes() throws {
        XCTAssertEqual(try JSONParser.parse(#""\"\\\/\b\f\n\r\t""#), .string("\"\\/\u{8}\u{C}\n\r\t"))
        XCTAssertEqual(try JSONParser.parse(#""a\nb""#), .string("a\nb"))
        XCTAssertEqual(try JSONParser.parse(#""""#), .string(""))
    }

    func testUnicodeEscapes() throws {
        XCTAssertEqual(try JSONParser.parse(#""\u00e9""#), .string("é"))
        XCTAssertEqual(try JSONParser.parse(#""\u00E9t\u00C9""#), .string("étÉ"))
        XCTAssertEqual(try JSONParser.parse(#""\u0000""#), .string("\u{0}"))
        XCTAssertEqual(try JSONParser.parse(#""\u0041\u0062""#), .string("Ab"))
        XCTAssertEqual(try JSONParser.parse(#""\u20ac""#), .string("€"))
        XCTAssertEqual(try JSONParser.parse(#""\uffff""#), .string("\u{FFFF}"))
    }

    func testSurrogatePairsBecomeOneScalar() throws {
        XCTAssertEqual(try JSONParser.parse(#""\ud83d\ude00""#), .string("😀"))
        XCTAssertEqual(try JSONParser.parse(#""\uD83D\uDE00!""#), .string("😀!"))
        XCTAssertEqual(try JSONParser.parse(#""\ud800\udc00""#), .string("\u{10000}"))
        XCTAssertEqual(try JSONParser.parse(#""\udbff\udfff""#), .string("\u{10FFFF}"))
    }

    func testLoneSurrogatesAreRejected() {
        for text in [#""\ud83d""#, #""\ude00""#, #""\ud83d x""#, #""\ud83d\u0041""#, #""\ud83d\ud83d""#, #""\ude00\ud83d""#] {
            let error = parseError(text)
            XCTAssertTrue(error?.reason.contains("lone surrogate") ?? false, "\(text): \(String(describing: error))")
        }
    }

    func testInvalidUTF8IsRejected() {
        let cases: [[UInt8]] = [
            [0x22, 0xFF, 0x22],  // never valid
            [0x22, 0xC0, 0xAF, 0x22],  // overlong '/'
            [0x22, 0xE2, 0x82, 0x22],  // truncated '€'
            [0x22, 0xED, 0xA0, 0x80, 0x22],  // an encoded surrogate
            [0x22, 0x80, 0x22],  // a lone continuation byte
            [0x22, 0x5C, 0x6E, 0xFF, 0x22],  // after an escape (slow path)
            [0x7B, 0x22, 0xFF, 0x22, 0x3A, 0x31, 0x7D],  // in an object key
        ]
        for bytes in cases {
            XCTAssertEqual(parseError(bytes)?.reason, "string is not valid UTF-8", "\(bytes)")
        }
        XCTAssertEqual(try JSONParser.parse([0x22, 0xC3, 0xA9, 0x22]), .string("é"))
        XCTAssertEqual(try JSONParser.parse([0x22, 0xF0, 0x9F, 0x98, 0x80, 0x22]), .string("😀"))
    }

    func testControlCharactersMustBeEscaped() {
        for byte: UInt8 in [0x00, 0x01, 0x09, 0x0A, 0x0D, 0x1F] {
            let error = parseError([0x22, 0x61, byte, 0x62, 0x22])
            XCTAssertTrue(error?.reason.hasPrefix("control character in string") ?? false, "byte \(byte): \(String(describing: error))")
            XCTAssertEqual(error?.offset, 2)
        }
        // DEL (0x7F) is not a control character in JSON's sense.
        XCTAssertEqual(try JSONParser.parse([0x22, 0x7F, 0x22]), .string("\u{7F}"))
    }

    func testRawNonASCIIText() throws {
        XCTAssertEqual(try JSONParser.parse("\"straße 😀 日本語 é\""), .string("straße 😀 日本語 é"))
        XCTAssertEqual(try JSONParser.parse("{\"ключ\": \"значение\"}"), .object(["ключ": "значение"]))
        XCTAssertEqual(try JSONParser.parse("\"\u{2028}\u{2029}\""), .string("\u{2028}\u{2029}"))
    }

    func testMalformedStrings() {
        XCTAssertEqual(parseError(#""abc"#)?.reason, "unterminated string")
        XCTAssertEqual(parseError(#""abc\"#)?.reason, "unterminated escape")
        XCTAssertEqual(parseError(#""a\x""#)?.reason, "invalid escape '\\x'")
        XCTAssertEqual(parseError(#""a\x""#)?.offset, 3)
        XCTAssertEqual(parseError(#""\'""#)?.reason, "invalid escape '\\''")
        XCTAssertEqual(parseError(#""\u12xy""#)?.reason, "invalid hex digit in \\u escape")
        XCTAssertEqual(parseError(#""\u12""#)?.reason, "truncated \\u escape")
        XCTAssertEqual(parseError(#""\u12"#)?.reason, "truncated \\u escape")
        XCTAssertEqual(parseError(#""\u12G4""#)?.reason, "invalid hex digit in \\u escape")
        XCTAssertNotNil(parseError("'single'"))
    }
}

final class JSONParserStructureTests: XCTestCase {
    func testObjectsArraysAndLiterals() throws {
        let text = " {\"a\" : [1, 2.5, \"x\", true, false, null, {}, []],\n\t\"b\": {\"c\": {\"d\": -1}} }\r\n"
        let expected: JSONValue = .object([
            "a": [1, 2.5, "x", true, false, nil, .object([:]), []],
            "b": .object(["c": .object(["d": -1])]),
        ])
        XCTAssertEqual(try JSONParser.parse(text), expected)
        XCTAssertEqual(try JSONParser.parse("true"), .bool(true))
        XCTAssertEqual(try JSONParser.parse("false"), .bool(false))
        XCTAssertEqual(try JSONParser.parse("null"), .null)
        XCTAssertEqual(try JSONParser.parse("[]"), .array([]))
        XCTAssertEqual(try JSONParser.parse("{}"), .object([:]))
    }

    func testDuplicateKeysLastOneWins() throws {
        XCTAssertEqual(try JSONParser.parse(#"{"a": 1, "a": 2}"#), .object(["a": 2]))
    }

    func testNestingDepthLimit() throws {
        XCTAssertEqual(JSONParser.maximumDepth, 512)
        func nested(_ depth: Int, open: String = "[", close: String = "]") -> String {
            String(repeating: open, count: depth) + String(repeating: close, count: depth)
        }
        var value = try JSONParser.parse(nested(500))
        var depth = 0
        while case .array(let inner) = value {
            depth += 1
            guard let first = inner.first else { break }
            value = first
        }
        XCTAssertEqual(depth, 500)
        XCTAssertNoThrow(try JSONParser.parse(nested(512)))
        XCTAssertEqual(parseError(nested(513))?.reason, "nested deeper than 512 levels")
        XCTAssertEqual(parseError(nested(600))?.reason, "nested deeper than 512 levels")
        XCTAssertEqual(parseError(nested(600))?.offset, 512)
        XCTAssertNotNil(parseError(String(repeating: "[", count: 100_000)))
        let objects = String(repeating: #"{"a":"#, count: 600) + "1" + String(repeating: "}", count: 600)
        XCTAssertEqual(parseError(objects)?.reason, "nested deeper than 512 levels")
        let fine = String(repeating: #"{"a":"#, count: 500) + "1" + String(repeating: "}", count: 500)
        XCTAssertNoThrow(try JSONParser.parse(fine))
    }

    func testTrailingGarbageIsRejected() {
        for text in ["1 2", "{} x", "[1]]", "truex", "nullx", "\"a\"\"b\"", "{}{}", "1,"] {
            XCTAssertEqual(parseError(text)?.reason, "unexpected text after the JSON value", text)
        }
        XCTAssertEqual(parseError("[1] x")?.offset, 4)
    }

    func testEmptyInput() {
        XCTAssertEqual(parseError("")?.reason, "unexpected end of input, expected a value")
        XCTAssertEqual(parseError("")?.offset, 0)
        XCTAssertEqual(parseError(" \n\t ")?.offset, 4)
        XCTAssertNotNil(parseError([UInt8]()))
    }

    func testStructuralErrors() {
        XCTAssertEqual(parseError("[1,]")?.reason, "unexpected character ']', expected a value")
        XCTAssertEqual(parseError("[,1]")?.reason, "unexpected character ',', expected a value")
        XCTAssertEqual(parseError("[1 2]")?.reason, "expected ',' or ']' in list")
        XCTAssertEqual(parseError("[1")?.reason, "unexpected end of input inside a list")
        XCTAssertEqual(parseError(#"{"a"}"#)?.reason, "expected ':' after object key")
        XCTAssertEqual(parseError(#"{"a":1,}"#)?.reason, "expected a string key in object")
        XCTAssertEqual(parseError("{a:1}")?.reason, "expected a string key in object")
        XCTAssertEqual(parseError(#"{"a":1"#)?.reason, "unexpected end of input inside an object")
        XCTAssertEqual(parseError(#"{"a":1 "b":2}"#)?.reason, "expected ',' or '}' in object")
        XCTAssertEqual(parseError("tru")?.reason, "unexpected end of input, expected true")
        XCTAssertEqual(parseError("trUe")?.reason, "unknown literal, expected true")
        XCTAssertNotNil(parseError("True"))
        XCTAssertNotNil(parseError("None"))
        XCTAssertNotNil(parseError("{'a': 1}"))
        XCTAssertEqual(parseError("\u{1}")?.reason, "unexpected character '\\x1', expected a value")
    }

    func testErrorDescriptionNamesTheOffset() {
        let error = parseError("[1, x]")
        XCTAssertEqual(error?.offset, 4)
        XCTAssertEqual(error?.description, "invalid JSON at byte 4: unexpected character 'x', expected a value")
    }

    func testLenientPythonLiterals() throws {
        XCTAssertEqual(try JSONParser.parse("['a', 'b']", lenient: true), ["a", "b"])
        XCTAssertEqual(try JSONParser.parse("[True, False, None]", lenient: true), [true, false, nil])
        XCTAssertEqual(try JSONParser.parse(#"{'k': 'it\'s', "n": 1}"#, lenient: true), .object(["k": "it's", "n": 1]))
        XCTAssertEqual(try JSONParser.parse(#"'say "hi"'"#, lenient: true), .string(#"say "hi""#))
        XCTAssertEqual(try JSONParser.parse(#"[[1, 2], [3]]"#, lenient: true), [[1, 2], [3]])
        XCTAssertEqual(try JSONParser.parse("[true, null]", lenient: true), [true, nil])
        XCTAssertNotNil(parseError("TRUE", lenient: true))
        XCTAssertNotNil(parseError("Nonsense", lenient: true))
        XCTAssertNotNil(parseError("'unterminated", lenient: true))
        XCTAssertNotNil(parseError("[1, 2", lenient: true))
    }

    func testBytesAndStringEntryPointsAgree() throws {
        let text = #"{"x": [1, "é", 2.5, 18446744073709551616]}"#
        XCTAssertEqual(try JSONParser.parse(Array(text.utf8)), try JSONParser.parse(text))
        let fromBuffer = try Array(text.utf8).withUnsafeBytes { buffer in try JSONParser.parse(buffer) }
        XCTAssertEqual(fromBuffer, try JSONParser.parse(text))
    }
}
