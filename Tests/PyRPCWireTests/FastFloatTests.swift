#if canImport(Glibc)
import Glibc
#endif
import XCTest
@testable import PyRPCWire

/// Doubles past the exact fast path (mantissas over 2^53, as most doubles printed in full
/// have) are read with Eisel–Lemire: every result must be `strtod`'s, bit for bit, on the
/// list fast path and in `parseNumber` alike.
final class FastFloatTests: XCTestCase {
    func strtodBits(_ text: String) -> UInt64 {
        text.withCString { strtod($0, nil) }.bitPattern
    }

    /// What the list fast path and `parseNumber` make of `text`, as bit patterns. With
    /// `followed`, more of the list comes after it, so that its digits are read a word at a
    /// time to the end (at the end of a buffer, the last few are read byte by byte).
    func readBits(_ text: String, followed: Bool = false) -> (fast: UInt64?, general: UInt64?) {
        let bytes = Array((text + (followed ? ", 1.25, 2.5]" : "]")).utf8)
        return bytes.withUnsafeBytes { raw in
            var fast: UInt64?
            var listScanner = JSONScanner(bytes: raw)
            _ = listScanner.scanPlainDoubles { if fast == nil { fast = $0.bitPattern } }
            var scanner = JSONScanner(bytes: raw)
            let general: UInt64?
            switch try? scanner.parseNumber() {
            case .float(let value): general = value.bitPattern
            case .int(let value): general = Double(value).bitPattern
            // An integer past Int64 stays exact text (big int): no double to compare.
            case .bigInt: general = strtodBits(text)
            default: general = nil
            }
            return (fast, general)
        }
    }

    func check(_ text: String, file: StaticString = #filePath, line: UInt = #line) {
        let expected = strtodBits(text)
        for followed in [false, true] {
            let (fast, general) = readBits(text, followed: followed)
            XCTAssertEqual(general, expected, "parseNumber(\(text))", file: file, line: line)
            if let fast { XCTAssertEqual(fast, expected, "list fast path(\(text))", file: file, line: line) }
        }
    }

    func testDoublesPrintedInFullReadBackExactly() {
        var random = SeededGenerator(seed: 2026)
        for round in 0..<100_000 {
            let bits = random.next()
            let value = Double(bitPattern: bits & 0x3FFF_FFFF_FFFF_FFFF | (round % 3 == 0 ? 1 << 63 : 0))
            // A wide spread of magnitudes around 1 (where JSON floats mostly are), as Swift
            // and Python print them (shortest) and as C prints all 17 digits.
            let scaled = value.isFinite ? value.truncatingRemainder(dividingBy: 1e6) : 0.5
            check("\(scaled)")
            check(String(format: "%.17g", scaled))
            check(String(format: "%.16f", Double.random(in: 0..<1, using: &random)))
        }
    }

    func testRandomDigitStringsReadLikeStrtod() {
        var random = SeededGenerator(seed: 7)
        for _ in 0..<100_000 {
            // Up to 19 digits with the point anywhere; the integer part as JSON spells it
            // (no leading zero but a lone one).
            let count = Int.random(in: 1...19, using: &random)
            let digits = (0..<count).map { _ in String(Int.random(in: 0...9, using: &random)) }.joined()
            let point = Int.random(in: 1...count, using: &random)
            var integer = String(digits.prefix(point).drop { $0 == "0" })
            if integer.isEmpty { integer = "0" }
            let fraction = digits.dropFirst(point)
            var text = fraction.isEmpty ? integer : integer + "." + fraction
            if Int.random(in: 0..<4, using: &random) == 0 { text += "e\(Int.random(in: -80...80, using: &random))" }
            // An integer spelling of zero is the integer 0 (`-0` too), not a float.
            if Double(text) == 0, !text.contains("."), !text.contains("e") { continue }
            if Bool.random(using: &random) { text = "-" + text }
            check(text)
        }
    }

    func testTiesAndEdgesFallBackToStrtod() {
        for text in [
            "9007199254740993", "9007199254740993.0", "9007199254740995", "18014398509481985",  // halfway between doubles
            "0.1", "0.2", "0.30000000000000004", "1.7976931348623157e308", "2.2250738585072014e-308",
            "4.9e-324", "1e400", "1e-400", "1e64", "1e-64", "1e65", "1e-65", "123456789012345678e-70",
            "9999999999999999999", "0.9999999999999999999", "-0.0", "-1e-400", "0.0000000000000000001234567890123456789",
            "1.00000000000000011102230246251565404236316680908203125",  // exactly halfway: 21 digits, strtod
        ] {
            check(text)
        }
    }

    func testDigitsReadEightAtATimeStopAtTheFirstOtherByte() {
        for text in ["12345678", "12345678.5", "1234567.8", "12345678.12345678", "-99999999.99999999", "123456789012345678",
                     "1234567890123456789", "0.12345678", "0.123456789", "12345678e3", "12345678.1e-3", "98765432.0"] {
            check(text)
        }
        // In a list: each number ends where its digits do, even eight bytes from a separator.
        let list = Array("12345678,87654321.5,1,22222222.22222222,3.3333333333333333]".utf8)
        let values: [Double] = list.withUnsafeBytes { raw in
            var scanner = JSONScanner(bytes: raw)
            var values: [Double] = []
            XCTAssertTrue(scanner.scanPlainDoubles { values.append($0) })
            return values
        }
        XCTAssertEqual(values, [12345678, 87654321.5, 1, 22222222.22222222, 3.3333333333333333])
    }

    /// The word-at-a-time digit reader against the bytes themselves: every byte value at every
    /// place of a word after digits, with anything after it, ends the run exactly there, and
    /// the run's value is its digits'.
    func testEveryByteEndsARunOfDigitsWhereverItIs() {
        var random = SeededGenerator(seed: 11)
        for place in 0..<8 {
            for byte in 0...255 {
                for _ in 0..<4 {
                    var bytes = (0..<8).map { _ in UInt8(ascii: "0") + UInt8.random(in: 0...9, using: &random) }
                    bytes[place] = UInt8(byte)
                    for later in (place + 1)..<8 where Bool.random(using: &random) { bytes[later] = UInt8.random(in: 0...255, using: &random) }
                    let word = bytes.withUnsafeBytes { UInt64(littleEndian: $0.loadUnaligned(as: UInt64.self)) }
                    let run = bytes.prefix { (0x30...0x39).contains($0) }.count
                    let count = JSONScanner.leadingDigitCount(word)
                    XCTAssertEqual(count, run, "bytes \(bytes)")
                    guard count > 0 else { continue }
                    let value = JSONScanner.digitsValue(count == 8 ? word : word &<< UInt64(64 - 8 * count))
                    XCTAssertEqual(value, UInt64(String(decoding: bytes.prefix(count), as: UTF8.self)), "bytes \(bytes)")
                }
            }
        }
    }

    func testEiselLemireAgreesWithStrtodWheneverItAnswers() {
        var random = SeededGenerator(seed: 99)
        var answered = 0
        for _ in 0..<200_000 {
            let mantissa = random.next() >> UInt64(Int.random(in: 0...40, using: &random))
            let exponent = Int.random(in: PowersOfTen128.minExponent...PowersOfTen128.maxExponent, using: &random)
            guard let value = eiselLemire(mantissa, exponent, negative: false) else { continue }
            answered += 1
            XCTAssertEqual(value.bitPattern, strtodBits("\(mantissa)e\(exponent)"), "\(mantissa)e\(exponent)")
        }
        XCTAssertGreaterThan(answered, 190_000, "nearly every case is decided without strtod")
    }
}
