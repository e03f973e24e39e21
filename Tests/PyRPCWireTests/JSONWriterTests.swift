import XCTest
@testable import PyRPCWire

final class JSONWriterTests: XCTestCase {
    func testScalars() {
        XCTAssertEqual(JSONValue.null.jsonText, "null")
        XCTAssertEqual(JSONValue.bool(true).jsonText, "true")
        XCTAssertEqual(JSONValue.bool(false).jsonText, "false")
        XCTAssertEqual(JSONValue.int(0).jsonText, "0")
        XCTAssertEqual(JSONValue.int(7).jsonText, "7")
        XCTAssertEqual(JSONValue.int(10).jsonText, "10")
        XCTAssertEqual(JSONValue.int(-1).jsonText, "-1")
        XCTAssertEqual(JSONValue.int(-10).jsonText, "-10")
        XCTAssertEqual(JSONValue.int(Int.max).jsonText, "9223372036854775807")
        XCTAssertEqual(JSONValue.int(Int.min).jsonText, "-9223372036854775808")
        XCTAssertEqual(JSONValue.bigInt("-1267650600228229401496703205376").jsonText, "-1267650600228229401496703205376")
    }

    func testIntegersRoundTrip() throws {
        var generator = SeededGenerator(seed: 42)
        var values = [Int.min, Int.min + 1, -1, 0, 1, 9, 10, 99, 100, Int.max - 1, Int.max]
        for _ in 0..<2000 { values.append(Int(truncatingIfNeeded: generator.next()) >> Int(generator.next() % 64)) }
        for value in values {
            XCTAssertEqual(JSONValue.int(value).jsonText, String(value))
            XCTAssertEqual(try JSONParser.parse(JSONValue.int(value).jsonText), .int(value))
        }
    }

    func testFloats() {
        XCTAssertEqual(JSONValue.float(0.1).jsonText, "0.1")
        XCTAssertEqual(JSONValue.float(1.0).jsonText, "1.0")
        XCTAssertEqual(JSONValue.float(-2.5).jsonText, "-2.5")
        XCTAssertEqual(JSONValue.float(-0.0).jsonText, "-0.0")
        XCTAssertEqual(JSONValue.float(0.0).jsonText, "0.0")
        XCTAssertEqual(JSONValue.float(1e308).jsonText, "1e+308")
        XCTAssertEqual(JSONValue.float(1.5e-7).jsonText, "1.5e-07")
        XCTAssertEqual(JSONValue.float(0.1 + 0.2).jsonText, "0.30000000000000004")
    }

    /// Doubles are written from the standard library's digits without a `String`
    /// (`ShortestDoubleText`): the text must be `description`'s exactly, for every kind of
    /// double (random bit patterns cover subnormals and both extremes of the exponent), the
    /// longest spellings included, and in a list after other text.
    func testFloatsAreWrittenAsSwiftPrintsThem() {
        var random = SeededGenerator(seed: 3)
        var values: [Double] = [
            -2.2250738585072014e-308, -1.7976931348623157e308, .leastNonzeroMagnitude, -.leastNormalMagnitude, .ulpOfOne,
            1e-5, 1e-4, 1e15, 1e16, 1e17, 123456789012345680, 0.30000000000000004, -0.0, .infinity,
        ]
        // Not NaN, which the writer spells itself ("nan"; through a stream it shows its payload).
        values += (0..<200_000).map { _ in Double(bitPattern: random.next()) }.filter { !$0.isNaN }
        var longest = 0
        for value in values {
            let text = ShortestDoubleText(value)
            text.withBytes { XCTAssertEqual(Array($0), Array(value.description.utf8), "\(value.bitPattern)") }
            longest = max(longest, text.count)
            guard value.isFinite else { continue }
            var writer = JSONWriter()
            writer.raw("[1,")
            writer.double(value)
            XCTAssertEqual(writer.bytes, Array("[1,\(value.description)".utf8))
        }
        XCTAssertEqual(longest, 24)
    }

    func testNonFiniteFloatsAreStrings() throws {
        XCTAssertEqual(JSONValue.float(.nan).jsonText, "\"nan\"")
        XCTAssertEqual(JSONValue.float(-.nan).jsonText, "\"nan\"")
        XCTAssertEqual(JSONValue.float(.infinity).jsonText, "\"inf\"")
        XCTAssertEqual(JSONValue.float(-.infinity).jsonText, "\"-inf\"")
        XCTAssertEqual(JSONValue.array([.float(.nan), .float(.infinity), .float(-.infinity)]).jsonText, #"["nan","inf","-inf"]"#)
        // ...and they come back as floats once coerced to their declared type.
        let back = try ValueCoercion.coerce(try JSONParser.parse(#"["nan","inf","-inf"]"#), to: .list(.float))
        guard case .array(let items) = back, items.count == 3,
            case .float(let nan) = items[0], case .float(let inf) = items[1], case .float(let minusInf) = items[2]
        else { return XCTFail("\(back)") }
        XCTAssertTrue(nan.isNaN)
        XCTAssertEqual(inf, .infinity)
        XCTAssertEqual(minusInf, -.infinity)
    }

    func testWrittenFloatsParseAsFloats() throws {
        // An integral float must not come back as an int.
        for value in [0.0, -0.0, 1.0, 1e15, 1e16, 1e22, 1e300, -5.0, 9007199254740992.0] {
            let text = JSONValue.float(value).jsonText
            guard case .float(let parsed) = try JSONParser.parse(text) else { return XCTFail("\(value) -> \(text)") }
            XCTAssertEqual(parsed.bitPattern, value.bitPattern, text)
        }
    }

    func testStringEscaping() {
        XCTAssertEqual(JSONValue.string("plain").jsonText, #""plain""#)
        XCTAssertEqual(JSONValue.string("a\"b\\c").jsonText, #""a\"b\\c""#)
        XCTAssertEqual(JSONValue.string("\n\r\t").jsonText, #""\n\r\t""#)
        XCTAssertEqual(JSONValue.string("\u{0}\u{1}\u{8}\u{C}\u{1F}").jsonText, #""\u0000\u0001\u0008\u000c\u001f""#)
        XCTAssertEqual(JSONValue.string("/").jsonText, #""/""#)
        XCTAssertEqual(JSONValue.string("\u{7F}é😀").jsonText, "\"\u{7F}é😀\"")
        XCTAssertEqual(JSONValue.string("").jsonText, #""""#)
        XCTAssertFalse(JSONValue.string("line1\nline2").jsonText.contains("\n"), "a raw newline would break framing")
    }

    func testStringsRoundTrip() throws {
        var strings = (0..<0x80).map { String(UnicodeScalar(UInt8($0))) }
        strings += ["", "straße", "😀", "日本語", "\u{FEFF}", "\u{10FFFF}", "\u{2028}", "a\u{0}b", #"\"\\"#, "'", "\r\n"]
        var generator = SeededGenerator(seed: 7)
        for _ in 0..<300 {
            var text = ""
            for _ in 0..<Int(generator.next() % 20) {
                let scalar = UnicodeScalar(UInt32(generator.next() % 0x11_0000)) ?? "?"
                text.unicodeScalars.append(scalar)
            }
            strings.append(text)
        }
        for text in strings {
            XCTAssertEqual(try JSONParser.parse(JSONValue.string(text).jsonText), .string(text), text.debugDescription)
            XCTAssertEqual(try JSONParser.parse(JSONValue.object([text: 1]).jsonText), .object([text: 1]), text.debugDescription)
        }
    }

    func testContainersWithSortedKeys() {
        let value: JSONValue = .object(["b": 1, "a": [1, "x", nil, true], "c": .object([:]), "": []])
        XCTAssertEqual(value.jsonText, #"{"":[],"a":[1,"x",null,true],"b":1,"c":{}}"#)
        XCTAssertEqual(JSONValue.array([]).jsonText, "[]")
        XCTAssertEqual(JSONValue.array([[[]]]).jsonText, "[[[]]]")
    }

    func testRandomTreesRoundTrip() throws {
        var generator = SeededGenerator(seed: 2024)
        func randomValue(depth: Int) -> JSONValue {
            switch generator.next() % (depth > 3 ? 7 : 9) {
            case 0: return .null
            case 1: return .bool(generator.next() % 2 == 0)
            case 2: return .int(Int(truncatingIfNeeded: generator.next()))
            case 3: return .bigInt((generator.next() % 2 == 0 ? "-" : "") + "9" + String(generator.next()) + String(generator.next()))
            case 4:
                let d = Double(bitPattern: generator.next())
                return .float(d.isFinite ? d : 1.5)
            case 5, 6: return .string(String(generator.next(), radix: 36) + ["", "é", "\"", "\\", "\n", "😀"][Int(generator.next() % 6)])
            case 7: return .array((0..<Int(generator.next() % 5)).map { _ in randomValue(depth: depth + 1) })
            default:
                var members: [String: JSONValue] = [:]
                for _ in 0..<Int(generator.next() % 5) { members[String(generator.next() % 1000)] = randomValue(depth: depth + 1) }
                return .object(members)
            }
        }
        for _ in 0..<300 {
            let value = randomValue(depth: 0)
            let text = value.jsonText
            XCTAssertEqual(try JSONParser.parse(text), value, text)
            XCTAssertEqual(try JSONParser.parse(text).jsonText, text)
        }
    }

    func testWriterAppendsToExistingBytes() {
        var writer = JSONWriter(capacity: 4)
        writer.raw("x=")
        writer.value([1, "a"])
        writer.raw(UInt8(ascii: ";"))
        writer.int(-5)
        writer.double(.infinity)
        XCTAssertEqual(String(decoding: writer.bytes, as: UTF8.self), #"x=[1,"a"];-5"inf""#)
    }
}
