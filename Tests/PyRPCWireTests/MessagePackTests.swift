import Foundation
import XCTest
@testable import PyRPCWire

/// The MessagePack codec: exact encodings from the spec (msgpack.org), round trips of every
/// kind of value, every strictness rule, the framing, and Python's `msgpack` as an
/// independent encoder and decoder when one is installed.
final class MessagePackTests: XCTestCase {
    // MARK: Integers

    /// Every integer format's edges, in both directions: the writer picks the smallest.
    func testIntegersAtEveryFormatBoundary() throws {
        let cases: [(Int, [UInt8])] = [
            (0, [0x00]), (1, [0x01]), (127, [0x7F]),
            (128, [0xCC, 0x80]), (255, [0xCC, 0xFF]),
            (256, [0xCD, 0x01, 0x00]), (65535, [0xCD, 0xFF, 0xFF]),
            (65536, [0xCE, 0x00, 0x01, 0x00, 0x00]), (Int(UInt32.max), [0xCE, 0xFF, 0xFF, 0xFF, 0xFF]),
            (Int(UInt32.max) + 1, [0xCF, 0, 0, 0, 0x01, 0, 0, 0, 0]),
            (Int.max, [0xCF, 0x7F, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF]),
            (-1, [0xFF]), (-32, [0xE0]),
            (-33, [0xD0, 0xDF]), (-128, [0xD0, 0x80]),
            (-129, [0xD1, 0xFF, 0x7F]), (-32768, [0xD1, 0x80, 0x00]),
            (-32769, [0xD2, 0xFF, 0xFF, 0x7F, 0xFF]), (Int(Int32.min), [0xD2, 0x80, 0x00, 0x00, 0x00]),
            (Int(Int32.min) - 1, [0xD3, 0xFF, 0xFF, 0xFF, 0xFF, 0x7F, 0xFF, 0xFF, 0xFF]),
            (Int.min, [0xD3, 0x80, 0, 0, 0, 0, 0, 0, 0]),
        ]
        for (value, bytes) in cases {
            XCTAssertEqual(MessagePackWriter.encode(.int(value)), bytes, "\(value)")
            XCTAssertEqual(try MessagePackReader.decode(bytes), .int(value), "\(value)")
        }
    }

    func testIntegersRoundTrip() throws {
        var generator = SeededGenerator(seed: 7)
        for _ in 0..<5000 {
            let value = Int(truncatingIfNeeded: generator.next()) >> Int(generator.next() % 64)
            XCTAssertEqual(try MessagePackReader.decode(MessagePackWriter.encode(.int(value))), .int(value))
        }
    }

    /// Other encoders may use a wider format than needed; the value is what counts.
    func testWiderIntegerFormatsAreRead() throws {
        XCTAssertEqual(try MessagePackReader.decode([0xD3, 0, 0, 0, 0, 0, 0, 0, 0x05]), .int(5))
        XCTAssertEqual(try MessagePackReader.decode([0xCD, 0x00, 0x01]), .int(1))
        XCTAssertEqual(try MessagePackReader.decode([0xD0, 0x05]), .int(5))
        XCTAssertEqual(try MessagePackReader.decode([0xCF, 0, 0, 0, 0, 0, 0, 0, 0]), .int(0))
    }

    /// A uint64 above `Int.max` is a Python int like any other: `bigInt` text, and written
    /// back as the same uint64.
    func testUInt64AboveIntMaxIsABigInt() throws {
        let top: [UInt8] = [0xCF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF]
        XCTAssertEqual(try MessagePackReader.decode(top), .bigInt("18446744073709551615"))
        XCTAssertEqual(MessagePackWriter.encode(.bigInt("18446744073709551615")), top)
        let justAbove: [UInt8] = [0xCF, 0x80, 0, 0, 0, 0, 0, 0, 0]
        XCTAssertEqual(try MessagePackReader.decode(justAbove), .bigInt("9223372036854775808"))
        XCTAssertEqual(MessagePackWriter.encode(.bigInt("9223372036854775808")), justAbove)
    }

    func testIntegersBeyond64BitsTravelAsExtensionOne() throws {
        for text in ["18446744073709551616", "-9223372036854775809", "123456789012345678901234567890",
                     "-1267650600228229401496703205376", String(repeating: "9", count: 300)]
        {
            let encoded = MessagePackWriter.encode(.bigInt(text))
            let digits = Array(text.utf8)
            let header: [UInt8] = digits.count <= 255 ? [0xC7, UInt8(digits.count), 0x01] : [0xC8, 0x01, UInt8(digits.count - 256), 0x01]
            XCTAssertEqual(encoded, header + digits, text)
            XCTAssertEqual(try MessagePackReader.decode(encoded), .bigInt(text))
        }
    }

    /// An extension-1 integer that fits an `Int` reads as `.int`, whatever format carried it.
    func testExtensionOneIntegersThatFitAreNormalized() throws {
        XCTAssertEqual(try MessagePackReader.decode([0xD4, 0x01] + Array("7".utf8)), .int(7))
        XCTAssertEqual(try MessagePackReader.decode([0xD4, 0x01] + Array("0".utf8)), .int(0))
        XCTAssertEqual(try MessagePackReader.decode([0xD5, 0x01] + Array("-5".utf8)), .int(-5))
        XCTAssertEqual(try MessagePackReader.decode([0xD8, 0x01] + Array("1234567890123456".utf8)), .int(1234567890123456))
        XCTAssertEqual(try MessagePackReader.decode([0xC7, 20, 0x01] + Array("-9223372036854775808".utf8)), .int(Int.min))
        XCTAssertEqual(try MessagePackReader.decode([0xC7, 19, 0x01] + Array("9223372036854775807".utf8)), .int(Int.max))
        XCTAssertEqual(try MessagePackReader.decode([0xC7, 20, 0x01] + Array("18446744073709551615".utf8)), .bigInt("18446744073709551615"))
        XCTAssertEqual(try MessagePackReader.decode([0xC8, 0x00, 0x01, 0x01] + Array("3".utf8)), .int(3))
        XCTAssertEqual(try MessagePackReader.decode([0xC9, 0, 0, 0, 0x01, 0x01] + Array("3".utf8)), .int(3))
    }

    func testExtensionOneRefusesAnythingButCanonicalDecimal() {
        for payload in ["", "-", "+5", " 5", "5 ", "-0", "00", "007", "-01", "1.5", "1e30", "0x10", "12a", "--1", "١٢"] {
            let digits = Array(payload.utf8)
            let error = decodeError([0xC7, UInt8(digits.count), 0x01] + digits)
            XCTAssertEqual(error?.offset, 0, payload)
            XCTAssertTrue(error?.message.contains("big integer") == true, "\(payload): \(String(describing: error))")
        }
    }

    // MARK: Floats, nil, booleans

    func testFloatsAreFloat64AndKeepEveryBit() throws {
        XCTAssertEqual(MessagePackWriter.encode(.float(1.5)), [0xCB, 0x3F, 0xF8, 0, 0, 0, 0, 0, 0])
        XCTAssertEqual(MessagePackWriter.encode(.float(.infinity)), [0xCB, 0x7F, 0xF0, 0, 0, 0, 0, 0, 0])
        let values: [Double] = [0, -0.0, 1, -2.5, 0.1, .pi, .nan, .infinity, -.infinity, .leastNonzeroMagnitude,
                                .greatestFiniteMagnitude, -.leastNormalMagnitude, 1e300, 9007199254740991]
        for value in values {
            guard case .float(let back) = try MessagePackReader.decode(MessagePackWriter.encode(.float(value))) else {
                return XCTFail("\(value) did not come back as a float")
            }
            XCTAssertEqual(back.bitPattern, value.bitPattern, "\(value)")
        }
        // An integral float stays a float.
        XCTAssertEqual(try MessagePackReader.decode(MessagePackWriter.encode(.float(3))), .float(3))
    }

    /// float32 from other encoders is read and widened exactly.
    func testFloat32IsReadAndWidened() throws {
        func float32(_ value: Float) -> [UInt8] { [0xCA] + withUnsafeBytes(of: value.bitPattern.bigEndian) { Array($0) } }
        XCTAssertEqual(float32(1.5), [0xCA, 0x3F, 0xC0, 0x00, 0x00])
        for value: Float in [1.5, 0.1, -0.0, .greatestFiniteMagnitude, .leastNonzeroMagnitude, .infinity, -.infinity] {
            guard case .float(let back) = try MessagePackReader.decode(float32(value)) else { return XCTFail("\(value)") }
            XCTAssertEqual(back.bitPattern, Double(value).bitPattern, "\(value)")
        }
        guard case .float(let nan) = try MessagePackReader.decode(float32(.nan)) else { return XCTFail("NaN") }
        XCTAssertTrue(nan.isNaN)
    }

    func testNilAndBooleans() throws {
        XCTAssertEqual(MessagePackWriter.encode(.null), [0xC0])
        XCTAssertEqual(MessagePackWriter.encode(.bool(false)), [0xC2])
        XCTAssertEqual(MessagePackWriter.encode(.bool(true)), [0xC3])
        XCTAssertEqual(try MessagePackReader.decode([0xC0]), .null)
        XCTAssertEqual(try MessagePackReader.decode([0xC2]), .bool(false))
        XCTAssertEqual(try MessagePackReader.decode([0xC3]), .bool(true))
    }

    // MARK: Strings

    func testStringsAtEveryFormatBoundary() throws {
        let cases: [(Int, [UInt8])] = [
            (0, [0xA0]), (1, [0xA1]), (31, [0xBF]),
            (32, [0xD9, 32]), (255, [0xD9, 0xFF]),
            (256, [0xDA, 0x01, 0x00]), (65535, [0xDA, 0xFF, 0xFF]),
            (65536, [0xDB, 0x00, 0x01, 0x00, 0x00]),
        ]
        for (length, header) in cases {
            let text = String(repeating: "x", count: length)
            let encoded = MessagePackWriter.encode(.string(text))
            XCTAssertEqual(Array(encoded.prefix(header.count)), header, "\(length)")
            XCTAssertEqual(encoded.count, header.count + length)
            XCTAssertEqual(try MessagePackReader.decode(encoded), .string(text))
        }
        XCTAssertEqual(MessagePackWriter.encode("abc"), [0xA3, 0x61, 0x62, 0x63])
    }

    /// Unicode, 4-byte UTF-8 included, comes back byte for byte (no normalization).
    func testUnicodeRoundTripsByteForByte() throws {
        for text in ["é", "e\u{301}", "中文字符", "😀", "a😀b\u{10FFFF}", "\u{0}", "Ω≈ç√∫", String(repeating: "🎉", count: 70)] {
            let encoded = MessagePackWriter.encode(.string(text))
            XCTAssertEqual(Array(encoded.suffix(text.utf8.count)), Array(text.utf8))
            guard case .string(let back) = try MessagePackReader.decode(encoded) else { return XCTFail(text) }
            XCTAssertEqual(Array(back.utf8), Array(text.utf8))
        }
        XCTAssertEqual(MessagePackWriter.encode("😀"), [0xA4, 0xF0, 0x9F, 0x98, 0x80])
    }

    // MARK: Lists and maps

    func testListAndMapHeaders() throws {
        XCTAssertEqual(MessagePackWriter.encode([]), [0x90])
        XCTAssertEqual(MessagePackWriter.encode(.object([:])), [0x80])
        XCTAssertEqual(MessagePackWriter.encode([1, 2]), [0x92, 0x01, 0x02])
        let sixteen = JSONValue.array(Array(repeating: .int(1), count: 16))
        XCTAssertEqual(MessagePackWriter.encode(sixteen), [0xDC, 0x00, 0x10] + Array(repeating: 0x01, count: 16))
        for count in [15, 16, 65535, 65536] {
            let list = JSONValue.array(Array(repeating: .null, count: count))
            let encoded = MessagePackWriter.encode(list)
            let expected: [UInt8] = count <= 15 ? [0x90 | UInt8(count)] : count <= 65535 ? [0xDC, UInt8(count >> 8), UInt8(count & 0xFF)] : [0xDD, 0, 1, 0, 0]
            XCTAssertEqual(Array(encoded.prefix(expected.count)), expected)
            XCTAssertEqual(try MessagePackReader.decode(encoded), list)

            var members: [String: JSONValue] = [:]
            for index in 0..<min(count, 20000) { members["k\(index)"] = .int(index) }
            let map = JSONValue.object(members)
            let mapBytes = MessagePackWriter.encode(map)
            let mapHeader: [UInt8] = members.count <= 15 ? [0x80 | UInt8(members.count)] : [0xDE, UInt8(members.count >> 8), UInt8(members.count & 0xFF)]
            XCTAssertEqual(Array(mapBytes.prefix(mapHeader.count)), mapHeader)
            XCTAssertEqual(try MessagePackReader.decode(mapBytes), map)
        }
        XCTAssertEqual(try MessagePackReader.decode([0xDF, 0, 0, 0, 1, 0xA1, 0x61, 0xC0]), .object(["a": .null]))
    }

    func testNestedValuesRoundTrip() throws {
        let values: [JSONValue] = [
            [[], [[]], [[[]]]],
            .object(["a": .object([:]), "b": [.object(["c": [1, 2.5, "x", nil, true]])]]),
            ["", .object(["": ""]), .bigInt("-123456789012345678901234567890"), .int(Int.min)],
        ]
        for value in values {
            XCTAssertEqual(try MessagePackReader.decode(MessagePackWriter.encode(value)), value)
        }
    }

    /// Equal objects are equal bytes: keys are written sorted.
    func testMapKeysAreWrittenSorted() {
        let value = JSONValue.object(["b": 2, "a": 1, "c": 3])
        XCTAssertEqual(MessagePackWriter.encode(value), [0x83, 0xA1, 0x61, 0x01, 0xA1, 0x62, 0x02, 0xA1, 0x63, 0x03])
    }

    func testRandomValuesRoundTripAndEncodeDeterministically() throws {
        var generator = SeededGenerator(seed: 2024)
        for _ in 0..<500 {
            let value = randomValue(&generator, depth: 0)
            let encoded = MessagePackWriter.encode(value)
            let back = try MessagePackReader.decode(encoded)
            XCTAssertTrue(sameValue(back, value), "\(value) came back as \(back)")
            XCTAssertEqual(MessagePackWriter.encode(back), encoded)
            var appended: [UInt8] = [0xAA]
            MessagePackWriter.encode(value, appendingTo: &appended)
            XCTAssertEqual(appended, [0xAA] + encoded)
        }
    }

    /// The piece-by-piece helpers write what the same `JSONValue` writes.
    func testPiecesMatchTheValueWriter() {
        var writer = MessagePackWriter()
        writer.mapHeader(count: 2)
        writer.string("result")
        writer.arrayHeader(count: 3)
        writer.int(-33)
        writer.float64(0.5)
        writer.bigInt("99999999999999999999")
        writer.string("tag")
        writer.null()
        let value: JSONValue = .object(["result": [.int(-33), .float(0.5), .bigInt("99999999999999999999")], "tag": nil])
        XCTAssertEqual(writer.bytes, MessagePackWriter.encode(value))
    }

    /// A list of 100,000 float64s reads element by element without slicing.
    func testLargeFloatListReads() throws {
        let list = JSONValue.array((0..<100_000).map { .float(Double($0) * 0.25) })
        let encoded = MessagePackWriter.encode(list)
        XCTAssertEqual(encoded.count, 5 + 9 * 100_000)
        let start = Date()
        let back = try MessagePackReader.decode(encoded)
        print("decoding 100,000 float64s took \(Int(Date().timeIntervalSince(start) * 1_000_000)) µs")
        XCTAssertEqual(back, list)
    }

    // MARK: Strictness

    func testEmptyAndTruncatedInputIsRefused() throws {
        XCTAssertEqual(decodeError([])?.offset, 0)
        let value: JSONValue = .object(["header": "RPC-REQ", "value": .object(["arguments": [1, 300, -70000, 2.5, "héllo", .bigInt("123456789012345678901")], "ok": true])])
        let encoded = MessagePackWriter.encode(value)
        for cut in 0..<encoded.count {
            guard let error = decodeError(Array(encoded.prefix(cut))) else { continue }
            XCTAssertLessThanOrEqual(error.offset, cut)
        }
        XCTAssertTrue(decodeError([0xCD, 0x01])?.message.contains("unexpected end of input") == true)
        XCTAssertTrue(decodeError([0xA3, 0x61])?.message.contains("runs past the end") == true)
    }

    func testTrailingBytesAreRefused() {
        let error = decodeError([0xC0, 0xC0])
        XCTAssertEqual(error?.offset, 1)
        XCTAssertTrue(error?.message.contains("after the value") == true, String(describing: error))
        XCTAssertEqual(decodeError([0x91, 0x01, 0x02])?.offset, 2)
    }

    func testInvalidUTF8IsRefused() {
        for bad: [UInt8] in [[0x80], [0xC3, 0x28], [0xC0, 0x80], [0xED, 0xA0, 0x80], [0xF4, 0x90, 0x80, 0x80], [0xF0, 0x9F, 0x98], [0xFF]] {
            let error = decodeError([0x91, 0xA0 | UInt8(bad.count)] + bad)
            XCTAssertEqual(error?.offset, 1, "\(bad)")
            XCTAssertTrue(error?.message.contains("UTF-8") == true, "\(bad)")
            XCTAssertEqual(decodeError([0x81, 0xA0 | UInt8(bad.count)] + bad + [0xC0])?.offset, 1, "key \(bad)")
        }
    }

    func testMapKeysMustBeStrings() {
        for key: [UInt8] in [[0x01], [0xC0], [0xC3], [0x90], [0x80], [0xCB, 0, 0, 0, 0, 0, 0, 0, 0], [0xC4, 0x01, 0x61]] {
            let error = decodeError([0x81] + key + [0xC0])
            XCTAssertEqual(error?.offset, 1, "\(key)")
            XCTAssertTrue(error?.message.contains("map keys must be str") == true, "\(key): \(String(describing: error))")
        }
        // str 8/16/32 keys are fine.
        XCTAssertEqual(try MessagePackReader.decode([0x81, 0xD9, 0x01, 0x61, 0x01]), .object(["a": 1]))
        XCTAssertEqual(try MessagePackReader.decode([0x81, 0xDA, 0x00, 0x01, 0x61, 0x01]), .object(["a": 1]))
        XCTAssertEqual(try MessagePackReader.decode([0x81, 0xDB, 0x00, 0x00, 0x00, 0x01, 0x61, 0x01]), .object(["a": 1]))
    }

    func testDuplicateKeysAreRefused() {
        let error = decodeError([0x82, 0xA1, 0x61, 0x01, 0xA1, 0x61, 0x02])
        XCTAssertEqual(error?.offset, 4)
        XCTAssertTrue(error?.message.contains("duplicate map key \"a\"") == true, String(describing: error))
        // The same key spelled with a wider str format is still the same key.
        XCTAssertEqual(decodeError([0x82, 0xA1, 0x61, 0x01, 0xD9, 0x01, 0x61, 0x02])?.offset, 4)
        // Keys are Swift strings, equal when canonically equivalent: "é" and "e\u{301}" collide.
        XCTAssertEqual(decodeError([0x82, 0xA2, 0xC3, 0xA9, 0x01, 0xA3, 0x65, 0xCC, 0x81, 0x02])?.offset, 5)
    }

    func testBinaryTimestampsAndOtherExtensionsAreRefused() {
        let refused: [([UInt8], String)] = [
            ([0xC4, 0x01, 0x00], "bin"), ([0xC5, 0x00, 0x01, 0x00], "bin"), ([0xC6, 0, 0, 0, 1, 0x00], "bin"),
            ([0xD6, 0xFF, 0, 0, 0, 0], "timestamp"), ([0xD7, 0xFF, 0, 0, 0, 0, 0, 0, 0, 0], "timestamp"),
            ([0xC7, 12, 0xFF] + Array(repeating: 0, count: 12), "timestamp"),
            ([0xD4, 0x02, 0x00], "extension type 2"), ([0xC7, 0x01, 0x05, 0x31], "extension type 5"),
            ([0xD8, 0x00] + Array(repeating: 0x31, count: 16), "extension type 0"),
            ([0xC1], "not a MessagePack type"),
        ]
        for (bytes, words) in refused {
            let error = decodeError([0x91] + bytes)
            XCTAssertEqual(error?.offset, 1, "\(bytes)")
            XCTAssertTrue(error?.message.contains(words) == true, "\(bytes): \(String(describing: error))")
        }
    }

    /// The same nesting bound as the JSON parser, counted the same way.
    func testNestingIsLimitedLikeJSON() throws {
        let limit = JSONParser.maximumDepth
        XCTAssertEqual(MessagePackReader.maximumDepth, limit)
        for (open, close) in [("[", "]"), ("{\"a\":", "}")] {
            let deepest = String(repeating: open, count: limit) + "1" + String(repeating: close, count: limit)
            XCTAssertNoThrow(try JSONParser.parse(deepest))
            XCTAssertNotNil(parseError(String(repeating: open, count: limit + 1) + "1" + String(repeating: close, count: limit + 1)))
        }
        let container: [UInt8] = [0x91]
        let entry: [UInt8] = [0x81, 0xA1, 0x61]
        for header in [container, entry] {
            let deepest = Array([[UInt8]](repeating: header, count: limit).joined()) + [0x01]
            XCTAssertNoThrow(try MessagePackReader.decode(deepest))
            let tooDeep = Array([[UInt8]](repeating: header, count: limit + 1).joined()) + [0x01]
            let error = decodeError(tooDeep)
            XCTAssertEqual(error?.offset, limit * header.count)
            XCTAssertTrue(error?.message.contains("nested deeper than \(limit)") == true, String(describing: error))
        }
    }

    /// A claimed length is checked against the input before anything is allocated for it.
    func testClaimedLengthsBeyondTheInputAreRefused() {
        let refused: [[UInt8]] = [
            [0xDD, 0xFF, 0xFF, 0xFF, 0xFF], [0xDF, 0xFF, 0xFF, 0xFF, 0xFF], [0xDB, 0xFF, 0xFF, 0xFF, 0xFF],
            [0xC9, 0xFF, 0xFF, 0xFF, 0xFF, 0x01], [0xDC, 0xFF, 0xFF, 0xC0], [0xDE, 0x00, 0x02, 0xA1, 0x61, 0xC0],
            [0xD9, 0x05, 0x61], [0x9F], [0x8F, 0xA0],
        ]
        for bytes in refused {
            XCTAssertEqual(decodeError(bytes)?.offset, 0, "\(bytes)")
        }
        XCTAssertTrue(decodeError([0xDD, 0xFF, 0xFF, 0xFF, 0xFF])?.message.contains("list of 4294967295 elements cannot fit") == true)
        // Lists nested in lists that together claim more elements than there are bytes: the
        // inner one could fit alone, but not with the element its parent still owes.
        let nested = decodeError([0x92, 0x92, 0xC0, 0xC0])
        XCTAssertEqual(nested?.offset, 1)
        XCTAssertEqual(try MessagePackReader.decode([0x92, 0x92, 0xC0, 0xC0, 0xC0]), [[nil, nil], nil])
        // A tower of huge claims fails at its second storey, long before memory runs out.
        let tower = Array([[UInt8]](repeating: [0xDD, 0x00, 0x00, 0xFF, 0xFF], count: 200).joined()) + Array(repeating: 0xC0, count: 70000)
        XCTAssertEqual(decodeError(tower)?.offset, 5)
    }

    // MARK: Frames and envelopes

    func testFramesPrefixTheLength() {
        XCTAssertEqual(MessagePackFrame.frame([0x01, 0x02, 0x03]), [0, 0, 0, 3, 0x01, 0x02, 0x03])
        XCTAssertEqual(MessagePackFrame.frame([]), [0, 0, 0, 0])
        XCTAssertEqual(MessagePackFrame.frame(Array(repeating: 0xC0, count: 0x10203)).prefix(4), [0x00, 0x01, 0x02, 0x03])
        let built = MessagePackFrame.frame { writer in
            writer.arrayHeader(count: 1)
            writer.string("x")
        }
        XCTAssertEqual(built, MessagePackFrame.frame(MessagePackWriter.encode(["x"])))
    }

    /// The server writes a result frame from kept constant bytes, then the values, then the
    /// length: byte for byte the frame of the same envelope encoded as a whole (keys sorted,
    /// smallest encodings), with or without an id.
    func testResultFrameWrittenInPiecesIsTheWholeEnvelopesFrame() {
        let ids: [JSONValue?] = [nil, .int(7), .int(-1), .string("call-1"), .bigInt("123456789012345678901234567890"), .null]
        let valueLists: [[JSONValue]] = [[.int(5)], [], [.float(2.5), .string("x"), .array([.bool(true)])]]
        for id in ids {
            for values in valueLists {
                var writer = MessagePackWriter(capacity: 8)
                RPCReply.beginResult(id: id, into: &writer)
                writer.value(.array(values))
                RPCReply.endResult(into: &writer)
                var inner: [String: JSONValue] = ["return-values": .array(values)]
                if let id { inner["id"] = id }
                let whole = MessagePackFrame.frame(MessagePackWriter.encode(.object(["header": .string("RPC-RES"), "value": .object(inner)])))
                XCTAssertEqual(writer.bytes, whole, "id \(String(describing: id)), values \(values)")
            }
        }
    }

    func testFrameReaderFindsWholeFramesAndRefusesOversizeFromTheHeader() {
        let first = MessagePackFrame.frame([0xC0])
        let second = MessagePackFrame.frame([0x92, 0x01, 0x02])
        let stream = first + second
        XCTAssertEqual(MessagePackFrame.next(in: stream, maxBytes: 100), .complete(body: 4..<5))
        XCTAssertEqual(MessagePackFrame.next(in: stream, from: 5, maxBytes: 100), .complete(body: 9..<12))
        XCTAssertEqual(MessagePackFrame.next(in: stream, from: 12, maxBytes: 100), .incomplete)
        for cut in 0..<second.count {
            XCTAssertEqual(MessagePackFrame.next(in: Array(second.prefix(cut)), maxBytes: 100), .incomplete, "\(cut)")
        }
        XCTAssertEqual(MessagePackFrame.next(in: [0, 0, 0, 0], maxBytes: 0), .complete(body: 4..<4))
        // Over the limit as soon as the 4-byte header is in, without any of the body.
        XCTAssertEqual(MessagePackFrame.next(in: [0xFF, 0xFF, 0xFF, 0xFF], maxBytes: 1 << 20), .oversize(length: 4_294_967_295))
        XCTAssertEqual(MessagePackFrame.next(in: [0, 0, 0, 101], maxBytes: 100), .oversize(length: 101))
        XCTAssertEqual(MessagePackFrame.next(in: [0, 0, 0, 100], maxBytes: 100), .incomplete)
        XCTAssertEqual(MessagePackFrame.next(in: [0, 0, 0], maxBytes: 0), .incomplete)
    }

    func testEnvelopesEncodeAsAMapAndReadBack() throws {
        let envelope = Envelope(header: Header.rpcRequest, value: ["id": 7])
        let body = envelope.messagePackEncoded()
        let expected: [UInt8] = [0x82, 0xA6] + Array("header".utf8) + [0xA7] + Array("RPC-REQ".utf8)
            + [0xA5] + Array("value".utf8) + [0x81, 0xA2, 0x69, 0x64, 0x07]
        XCTAssertEqual(body, expected)
        XCTAssertEqual(envelope.messagePackFrame(), MessagePackFrame.frame(body))
        let back = try Envelope(messagePack: body)
        XCTAssertEqual(back.header, envelope.header)
        XCTAssertEqual(back.value, envelope.value)
        // "type" is the alias of "header", as in JSON.
        let aliased = try Envelope(messagePack: MessagePackWriter.encode(.object(["type": "LS-REQ", "value": .object([:])])))
        XCTAssertEqual(aliased.header, Header.listRequest)
    }

    func testEnvelopeErrorsAreBadRequests() {
        let invalid = rpcError { () throws(RPCError) in try Envelope(messagePack: [0x81, 0xA5, 0x61, 0xC0]) }
        XCTAssertEqual(invalid?.type, .badRequest)
        XCTAssertTrue(invalid?.message.hasPrefix("invalid MessagePack at byte 1: ") == true, String(describing: invalid))
        let notAMap = rpcError { () throws(RPCError) in try Envelope(messagePack: [0x90]) }
        XCTAssertEqual(notAMap?.type, .badRequest)
        XCTAssertTrue(notAMap?.message.contains("got a list") == true, String(describing: notAMap))
        let noHeader = rpcError { () throws(RPCError) in try Envelope(messagePack: MessagePackWriter.encode(.object(["value": .object([:])]))) }
        XCTAssertTrue(noHeader?.message.contains("missing field 'header'") == true, String(describing: noHeader))
    }

    func testErrorDescriptionSaysWhereAndWhat() {
        let error = MessagePackError(offset: 12, message: "str is not valid UTF-8")
        XCTAssertEqual(error.description, "invalid MessagePack at byte 12: str is not valid UTF-8")
    }

    // MARK: Python's msgpack

    /// Python's `msgpack` as an independent implementation, both ways: what we write it reads
    /// and writes back byte for byte (both choose the smallest formats; keys sorted), and what
    /// it writes (float32 too) we read as the values its JSON text spells.
    func testPythonMsgpackAgrees() throws {
        let python = try pythonWithMsgpack()
        var generator = SeededGenerator(seed: 99)
        var values: [JSONValue] = [
            .int(Int.min), .int(Int.max), .bigInt("18446744073709551615"), .bigInt("-1267650600228229401496703205376"),
            .float(.nan), .float(.infinity), .float(-.infinity), .float(-0.0), "😀 中文 é",
            .string(String(repeating: "s", count: 65536)), .object(["header": "RPC-REQ", "value": .object(["arguments": [1, 2.5]])]),
        ]
        for _ in 0..<300 { values.append(randomValue(&generator, depth: 0)) }
        let ours = values.map { MessagePackWriter.encode($0) }
        let theirs = try run(python, script: Self.pythonRepack, input: ours.map(hex).joined(separator: "\n"))
            .split(separator: "\n").map(String.init)
        XCTAssertEqual(theirs.count, ours.count)
        for (index, line) in theirs.enumerated() where index < ours.count {
            XCTAssertEqual(line, hex(ours[index]), "Python repacked \(values[index]) differently")
        }

        let cases = try run(python, script: Self.pythonCases, input: "").split(separator: "\n")
        XCTAssertGreaterThan(cases.count, 20)
        for line in cases {
            let parts = line.split(separator: "\t", maxSplits: 1).map(String.init)
            let decoded = try MessagePackReader.decode(bytes(hex: parts[0]))
            XCTAssertEqual(decoded, try JSONParser.parse(parts[1]), parts[1])
        }
    }

    /// Reads hex lines of MessagePack, writes each value back as hex (ext 1 both ways).
    static let pythonRepack = """
        import sys, msgpack
        def ext_hook(code, data):
            if code != 1: raise ValueError("extension type %d" % code)
            return int(data.decode("ascii"))
        def default(o):
            if isinstance(o, int): return msgpack.ExtType(1, str(o).encode("ascii"))
            raise TypeError(type(o))
        for line in sys.stdin.read().split():
            value = msgpack.unpackb(bytes.fromhex(line), raw=False, strict_map_key=True, ext_hook=ext_hook)
            print(msgpack.packb(value, default=default, use_bin_type=True).hex())
        """

    /// Python's own values, each as `hex<TAB>json`.
    static let pythonCases = """
        import json, struct, msgpack
        def default(o):
            if isinstance(o, int): return msgpack.ExtType(1, str(o).encode("ascii"))
            raise TypeError(type(o))
        values = [0, 127, 128, 255, 256, 65535, 65536, 2**32 - 1, 2**32, 2**63 - 1, 2**63, 2**64 - 1, 2**64, 10**40, -10**40,
                  -1, -32, -33, -128, -129, -32768, -32769, -2**31, -2**31 - 1, -2**63, -2**63 - 1,
                  0.1, -2.5, 1e300, 5e-324, True, False, None, "", "x" * 31, "x" * 32, "x" * 255, "x" * 256, "é" * 40000,
                  "😀\\u0000\\n\\"", [], [[]], list(range(20)), {}, {"a": [1, {"b": None}], "ü": "ß"},
                  {"header": "RPC-REQ", "value": {"service": "calc", "rpc": "add", "arguments": [2, 3], "id": 7}}]
        for value in values:
            print(msgpack.packb(value, default=default).hex() + "\\t" + json.dumps(value, ensure_ascii=False))
        for single in [1.5, 0.1, -3.25e-20, 3.4e38]:
            widened = struct.unpack(">f", struct.pack(">f", single))[0]
            print(msgpack.packb(single, use_single_float=True).hex() + "\\t" + json.dumps(widened))
        """

    // MARK: Helpers

    /// The error for `bytes`, failing the test when they decode.
    private func decodeError(_ bytes: [UInt8], file: StaticString = #filePath, line: UInt = #line) -> MessagePackError? {
        do {
            let value = try MessagePackReader.decode(bytes)
            XCTFail("expected a MessagePack error for \(bytes.prefix(32)), got \(value)", file: file, line: line)
            return nil
        } catch {
            return error
        }
    }

    /// Equality that takes NaN as equal to NaN and tells -0.0 from 0.0.
    private func sameValue(_ a: JSONValue, _ b: JSONValue) -> Bool {
        switch (a, b) {
        case (.float(let x), .float(let y)): return x.bitPattern == y.bitPattern || (x.isNaN && y.isNaN)
        case (.array(let x), .array(let y)): return x.count == y.count && zip(x, y).allSatisfy { sameValue($0, $1) }
        case (.object(let x), .object(let y)):
            return x.count == y.count && x.allSatisfy { key, value in y[key].map { sameValue(value, $0) } ?? false }
        default: return a == b
        }
    }

    private func randomValue(_ generator: inout SeededGenerator, depth: Int) -> JSONValue {
        let pick = generator.next() % (depth < 4 ? 10 : 8)
        switch pick {
        case 0: return .null
        case 1: return .bool(generator.next() % 2 == 0)
        case 2: return .int(Int(truncatingIfNeeded: generator.next()) >> Int(generator.next() % 64))
        case 3:
            let digits = (0..<(20 + Int(generator.next() % 40))).map { _ in String(generator.next() % 10) }.joined()
            let text = "1" + digits
            return .bigInt(generator.next() % 2 == 0 ? text : "-" + text)
        case 4:
            let bits = generator.next()
            return .float(generator.next() % 3 == 0 ? Double(bitPattern: bits) : Double(Int64(truncatingIfNeeded: bits) >> 20) / 1024)
        case 5, 6:
            let alphabet = ["a", "Z", "0", " ", "é", "中", "😀", "\u{0}", "\n", "\""]
            return .string((0..<Int(generator.next() % 40)).map { _ in alphabet[Int(generator.next() % 10)] }.joined())
        case 7: return .int(Int(generator.next() % 300) - 150)
        case 8: return .array((0..<Int(generator.next() % 20)).map { _ in randomValue(&generator, depth: depth + 1) })
        default:
            var members: [String: JSONValue] = [:]
            for _ in 0..<Int(generator.next() % 10) { members["k\(generator.next() % 50)"] = randomValue(&generator, depth: depth + 1) }
            return .object(members)
        }
    }

    private func hex(_ bytes: [UInt8]) -> String {
        let digits = Array("0123456789abcdef".utf8)
        var text: [UInt8] = []
        text.reserveCapacity(bytes.count * 2)
        for byte in bytes {
            text.append(digits[Int(byte >> 4)])
            text.append(digits[Int(byte & 0xF)])
        }
        return String(decoding: text, as: UTF8.self)
    }

    private func bytes(hex: String) -> [UInt8] {
        let digits = Array(hex.utf8).map { $0 <= 0x39 ? $0 - 0x30 : $0 - 0x61 + 10 }
        return stride(from: 0, to: digits.count - 1, by: 2).map { digits[$0] << 4 | digits[$0 + 1] }
    }

    /// A Python that can `import msgpack`: `PYRPC_MSGPACK_PYTHON`, the numpy venv that
    /// `.ci/run` makes, a scratch venv at /tmp/msgpack-venv, or `python3` on the PATH.
    private func pythonWithMsgpack() throws -> String {
        let environment = ProcessInfo.processInfo.environment
        let venv = environment["PYRPC_NUMPY_VENV"].flatMap { $0.isEmpty ? nil : $0 }
            ?? NSString(string: "~/.cache/pyrpc/numpy-venv-3.11").expandingTildeInPath
        let candidates = [environment["PYRPC_MSGPACK_PYTHON"], venv + "/bin/python", "/tmp/msgpack-venv/bin/python", "python3"]
            .compactMap { $0 }.filter { !$0.isEmpty }
        for python in candidates where (try? run(python, script: "import msgpack", input: "")) != nil {
            return python
        }
        let reason = "no Python with msgpack (tried \(candidates.joined(separator: ", "))); `pip install msgpack` into one of them to run this test"
        print(reason)
        throw XCTSkip(reason)
    }

    /// Runs `script` with `python`, `input` on standard input; standard output, or an error
    /// when it fails. Input and errors go through files, so no pipe can fill up and block.
    private func run(_ python: String, script: String, input: String) throws -> String {
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("msgpack-test-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: folder) }
        let inputFile = folder.appendingPathComponent("input"), errorFile = folder.appendingPathComponent("errors")
        try Data(input.utf8).write(to: inputFile)
        _ = FileManager.default.createFile(atPath: errorFile.path, contents: nil)
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = [python, "-c", script]
        process.standardInput = try FileHandle(forReadingFrom: inputFile)
        process.standardError = try FileHandle(forWritingTo: errorFile)
        let output = Pipe()
        process.standardOutput = output
        try process.run()
        let printed = output.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        guard process.terminationStatus == 0 else {
            let errors = (try? String(contentsOf: errorFile, encoding: .utf8)) ?? ""
            throw PythonFailed(description: "\(python) exited with \(process.terminationStatus): \(errors)")
        }
        return String(decoding: printed, as: UTF8.self)
    }
}

private struct PythonFailed: Error, CustomStringConvertible {
    let description: String
}
