import XCTest
@testable import PyRPCWire

/// The fast paths (eight-byte scans, plain-number scanners) must agree exactly with the
/// byte-at-a-time code they stand in for.
final class FastPathTests: XCTestCase {
    /// Bytes drawn mostly from `alphabet`, sometimes anything (UTF-8 lead bytes, controls).
    func randomBytes(_ count: Int, _ alphabet: [UInt8], _ random: inout SeededGenerator) -> [UInt8] {
        (0..<count).map { _ in
            Int.random(in: 0..<10, using: &random) == 0 ? UInt8.random(in: 0...255, using: &random) : alphabet.randomElement(using: &random)!
        }
    }

    func testFirstStructuralMatchesAByteLoop() {
        var random = SeededGenerator(seed: 1)
        let alphabet = Array("0123456789., -e[]{}\"abc\\".utf8)
        for length in [0, 1, 7, 8, 9, 15, 16, 17, 63, 200] {
            for _ in 0..<40 {
                let bytes = randomBytes(length, alphabet, &random)
                bytes.withUnsafeBytes { raw in
                    for start in 0...length {
                        let expected = (start..<length).first { "[]{}\"".utf8.contains(bytes[$0]) } ?? length
                        XCTAssertEqual(ByteScan.firstStructural(in: raw, from: start), expected, "\(bytes) from \(start)")
                    }
                }
            }
        }
    }

    /// Long runs without a structural byte (a list of numbers), with at most one somewhere,
    /// of every byte value: the 32-bytes-a-round scan stops exactly there.
    func testFirstStructuralFindsTheOneByteInALongRun() {
        var random = SeededGenerator(seed: 5)
        let digits = Array("0123456789.,-e ".utf8)
        for length in [31, 32, 33, 64, 95, 300] {
            for byte in 0...255 {
                var bytes = (0..<length).map { _ in digits.randomElement(using: &random)! }
                let place = Int.random(in: 0..<length, using: &random)
                bytes[place] = UInt8(byte)
                bytes.withUnsafeBytes { raw in
                    for start in [0, 1, place, min(place + 1, length)] {
                        let expected = (start..<length).first { "[]{}\"".utf8.contains(bytes[$0]) } ?? length
                        XCTAssertEqual(ByteScan.firstStructural(in: raw, from: start), expected, "byte \(byte) at \(place) of \(length) from \(start)")
                    }
                }
            }
        }
    }

    func testFirstStringSpecialMatchesAByteLoop() {
        var random = SeededGenerator(seed: 2)
        let alphabet = Array("abc xyz\"\\\t\n\u{1}é😀".utf8)
        for length in [0, 1, 7, 8, 9, 16, 33, 120] {
            for _ in 0..<40 {
                let bytes = randomBytes(length, alphabet, &random)
                bytes.withUnsafeBytes { raw in
                    for start in 0...length {
                        let expected = (start..<length).first { bytes[$0] == 0x22 || bytes[$0] == 0x5C || bytes[$0] < 0x20 } ?? length
                        XCTAssertEqual(ByteScan.firstStringSpecial(in: raw, from: start), expected, "\(bytes) from \(start)")
                    }
                }
            }
        }
    }

    /// What `parseNumber` makes of `text`, and where it stops.
    func general(_ text: String) -> (JSONValue, Int)? {
        let bytes = Array(text.utf8)
        return bytes.withUnsafeBytes { raw in
            var scanner = JSONScanner(bytes: raw)
            guard let value = try? scanner.parseNumber() else { return nil }
            return (value, scanner.index)
        }
    }

    func plainDouble(_ text: String) -> (Double, Int)? {
        let bytes = Array(text.utf8)
        return bytes.withUnsafeBytes { raw in
            var scanner = JSONScanner(bytes: raw)
            guard let value = scanner.scanPlainDouble() else {
                XCTAssertEqual(scanner.index, 0, "a refused number must leave the scanner unmoved")
                return nil
            }
            return (value, scanner.index)
        }
    }

    func testPlainDoublesEqualTheGeneralParserBitForBit() {
        var random = SeededGenerator(seed: 3)
        var texts = ["0", "-0", "0.0", "-0.0", "1", "0.25", "-12.5", "9007199254740992", "9007199254740993", "0.1", "123456789.123456789",
                     "1234567890123456789", "12345678901234567890", "0.0000000000000000000001", "3.14159", "1e5", "1.5E-3", "2,"]
        for _ in 0..<5000 {
            let integer = String(UInt64.random(in: 0...UInt64(1) << UInt64.random(in: 0...60, using: &random), using: &random))
            let fraction = String((0..<Int.random(in: 0...12, using: &random)).map { _ in "0123456789".randomElement(using: &random)! })
            texts.append((Bool.random(using: &random) ? "-" : "") + integer + (fraction.isEmpty ? "" : "." + fraction))
        }
        var fastCount = 0
        for text in texts {
            guard let (value, end) = plainDouble(text) else { continue }
            fastCount += 1
            guard let (parsed, parsedEnd) = general(text) else { XCTFail("\(text): fast path took what parseNumber refuses"); continue }
            XCTAssertEqual(end, parsedEnd, text)
            let expected: Double
            switch parsed {
            case .float(let d): expected = d
            case .int(let i): expected = Double(i)
            default: XCTFail("\(text): \(parsed)"); continue
            }
            XCTAssertEqual(value.bitPattern, expected.bitPattern, "\(text): \(value) vs \(expected)")
        }
        XCTAssertGreaterThan(fastCount, 2500, "most plain decimals should take the fast path")
    }

    func testPlainScannersRefuseWhatTheyCannotReadExactly() {
        for text in ["012", "1.", "-", ".5", "1e5", "1E5", "1.5e2", "12345678901234567890", "9007199254740993", "0.12345678901234567891", "abc", ""] {
            XCTAssertNil(plainDouble(text), text)
        }
        for text in ["1.0", "1e2", "1234567890123456789", "-", "012", "2.5"] {
            let bytes = Array(text.utf8)
            bytes.withUnsafeBytes { raw in
                var scanner = JSONScanner(bytes: raw)
                XCTAssertNil(scanner.scanPlainInt(), text)
                XCTAssertEqual(scanner.index, 0)
            }
        }
        let bytes = Array("-123456789012345678,".utf8)
        bytes.withUnsafeBytes { raw in
            var scanner = JSONScanner(bytes: raw)
            XCTAssertEqual(scanner.scanPlainInt(), -123_456_789_012_345_678)
            XCTAssertEqual(scanner.index, 19)
        }
    }

    /// Runs the list loop from just after `[`; returns what it read, whether it ended the list, and where it stopped.
    func plainList(_ text: String) -> (values: [Double], ended: Bool, rest: String) {
        let bytes = Array(text.utf8)
        return bytes.withUnsafeBytes { raw in
            var scanner = JSONScanner(bytes: raw)
            scanner.index = 1
            var values: [Double] = []
            let ended = scanner.scanPlainDoubles { values.append($0) }
            return (values, ended, String(decoding: bytes[scanner.index...], as: UTF8.self))
        }
    }

    func testPlainListLoopStopsCleanlyWhereTheGeneralPathMustTakeOver() {
        var result = plainList("[1.5, 2 ,\n3.25]")
        XCTAssertEqual(result.values, [1.5, 2, 3.25])
        XCTAssertTrue(result.ended)
        XCTAssertEqual(result.rest, "")

        result = plainList("[1.5, 1e3, 2]")
        XCTAssertEqual(result.values, [1.5])
        XCTAssertFalse(result.ended)
        XCTAssertEqual(result.rest, "1e3, 2]", "stops at the start of the value it cannot read")

        result = plainList("[1.5 x]")
        XCTAssertEqual(result.values, [], "a value is taken only with the separator after it")
        XCTAssertEqual(result.rest, "1.5 x]")

        result = plainList("[\"a\"]")
        XCTAssertEqual(result.values, [])
        XCTAssertEqual(result.rest, "\"a\"]")

        result = plainList("[7, 8")
        XCTAssertEqual(result.values, [7])
        XCTAssertFalse(result.ended)
        XCTAssertEqual(result.rest, "8")
    }

    func testSkipValueEndsWhereTheParserEnds() throws {
        let documents = [
            #"[1, [2, [3]], {"a": "]"}, "\"]", "\\", "x\\\"y"] tail"#,
            #"{"k": [1.5, 2.5, {"deep": ["}", "{"]}], "s": "é😀"} tail"#,
            #""just a \"string\" with [brackets]" tail"#,
            "[" + (0..<1000).map { "\($0).5" }.joined(separator: ",") + "] tail",
        ]
        for document in documents {
            let bytes = Array(document.utf8)
            try bytes.withUnsafeBytes { raw in
                var skipper = JSONScanner(bytes: raw)
                try skipper.skipValue(depth: 0)
                var parser = JSONScanner(bytes: raw)
                _ = try parser.parseValue(depth: 0)
                XCTAssertEqual(skipper.index, parser.index, document)
                XCTAssertEqual(String(decoding: bytes[skipper.index...], as: UTF8.self), " tail")
            }
        }
    }
}
