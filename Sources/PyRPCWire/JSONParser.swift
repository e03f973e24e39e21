import CLinux
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Malformed JSON, with the byte offset where parsing stopped.
public struct JSONParseError: Error, Sendable, Equatable, CustomStringConvertible {
    public let offset: Int
    public let reason: String

    public var description: String { "invalid JSON at byte \(offset): \(reason)" }
}

/// A strict RFC 8259 parser that keeps integers exact (see `JSONValue.bigInt`).
///
/// ```swift
/// let value = try JSONParser.parse(#"{"header": "RPC-REQ", "value": {}}"#)
/// ```
/// With `lenient: true` it also reads the Python-literal spellings that course clients
/// produce with `str(value)`: single-quoted strings and `True`/`False`/`None`.
public enum JSONParser {
    /// Nesting deeper than this is rejected rather than risking the stack.
    public static let maximumDepth = 512

    public static func parse(_ text: String, lenient: Bool = false) throws(JSONParseError) -> JSONValue {
        var text = text
        let result: Result<JSONValue, JSONParseError> = text.withUTF8 { buffer in
            Result { () throws(JSONParseError) -> JSONValue in
                try parse(UnsafeRawBufferPointer(buffer), lenient: lenient)
            }
        }
        return try result.get()
    }

    public static func parse(_ bytes: UnsafeRawBufferPointer, lenient: Bool = false) throws(JSONParseError) -> JSONValue {
        try parse(bytes, lenient: lenient, capturing: nil).value
    }

    /// Parses a message but leaves the list under `key` in the message body unparsed (it
    /// comes back as `.null`) and returns its byte range instead: the RPC arguments are
    /// parsed later straight into the objects Python needs, off the network thread.
    public static func parse(
        _ bytes: UnsafeRawBufferPointer, lenient: Bool = false, capturing key: String?
    ) throws(JSONParseError) -> (value: JSONValue, captured: Range<Int>?) {
        var reader = JSONScanner(bytes: bytes, lenient: lenient)
        reader.captureKey = key
        reader.skipWhitespace()
        let value = try reader.parseValue(depth: 0)
        reader.skipWhitespace()
        guard reader.index == bytes.count else {
            throw reader.error("unexpected text after the JSON value")
        }
        return (value, reader.captured)
    }

    /// Why `bytes` is not one valid JSON value (RFC 8259), or nil when it is. For text that
    /// was set aside unparsed (a request's `arguments`) and must be judged before anything
    /// else about the request is reported.
    public static func invalidity(of bytes: UnsafeRawBufferPointer) -> JSONParseError? {
        do {
            _ = try parse(bytes)
            return nil
        } catch {
            return error
        }
    }

    public static func invalidity(of bytes: ArgumentBytes) -> JSONParseError? {
        bytes.withUnsafeBytes { invalidity(of: $0) }
    }

    public static func parse(_ bytes: [UInt8], lenient: Bool = false) throws(JSONParseError) -> JSONValue {
        let result: Result<JSONValue, JSONParseError> = bytes.withUnsafeBytes { buffer in
            Result { () throws(JSONParseError) -> JSONValue in try parse(buffer, lenient: lenient) }
        }
        return try result.get()
    }
}

/// The tokenizer and recursive-descent parser behind `JSONParser`, public so that other
/// modules can parse JSON straight into their own representation (see `JSONToPython`).
public struct JSONScanner {
    public let bytes: UnsafeRawBufferPointer
    public let lenient: Bool
    public var index = 0
    /// With `captureKey`, the byte range of that key's list in the message body (depth 2).
    var captureKey: String?
    var captured: Range<Int>?

    public init(bytes: UnsafeRawBufferPointer, lenient: Bool = false) {
        self.bytes = bytes
        self.lenient = lenient
    }

    public func error(_ reason: String) -> JSONParseError {
        JSONParseError(offset: index, reason: reason)
    }

    @inlinable @inline(__always) public var current: UInt8? { index < bytes.count ? bytes[index] : nil }

    @inlinable public mutating func skipWhitespace() {
        while index < bytes.count {
            switch bytes[index] {
            case 0x20, 0x0A, 0x0D, 0x09: index += 1
            default: return
            }
        }
    }

    public mutating func parseValue(depth: Int) throws(JSONParseError) -> JSONValue {
        guard let byte = current else { throw error("unexpected end of input, expected a value") }
        switch byte {
        case UInt8(ascii: "{"): return try parseObject(depth: depth + 1)
        case UInt8(ascii: "["): return try parseArray(depth: depth + 1)
        case UInt8(ascii: "\""): return .string(try parseString(quote: byte))
        case UInt8(ascii: "'") where lenient: return .string(try parseString(quote: byte))
        case UInt8(ascii: "-"), UInt8(ascii: "0")...UInt8(ascii: "9"): return try parseNumber()
        case UInt8(ascii: "t"): try expectKeyword("true"); return .bool(true)
        case UInt8(ascii: "f"): try expectKeyword("false"); return .bool(false)
        case UInt8(ascii: "n"): try expectKeyword("null"); return .null
        case UInt8(ascii: "T") where lenient: try expectKeyword("True"); return .bool(true)
        case UInt8(ascii: "F") where lenient: try expectKeyword("False"); return .bool(false)
        case UInt8(ascii: "N") where lenient: try expectKeyword("None"); return .null
        default: throw error("unexpected character '\(printable(byte))', expected a value")
        }
    }

    private func printable(_ byte: UInt8) -> String {
        byte >= 0x20 && byte < 0x7F ? String(UnicodeScalar(byte)) : "\\x" + String(byte, radix: 16)
    }

    public mutating func expectKeyword(_ word: StaticString) throws(JSONParseError) {
        let count = word.utf8CodeUnitCount
        guard index + count <= bytes.count else { throw error("unexpected end of input, expected \(word)") }
        let matches = word.withUTF8Buffer { expected in
            (0..<count).allSatisfy { bytes[index + $0] == expected[$0] }
        }
        guard matches else { throw error("unknown literal, expected \(word)") }
        index += count
    }

    mutating func parseObject(depth: Int) throws(JSONParseError) -> JSONValue {
        guard depth <= JSONParser.maximumDepth else { throw error("nested deeper than \(JSONParser.maximumDepth) levels") }
        index += 1
        var members: [String: JSONValue] = [:]
        skipWhitespace()
        if current == UInt8(ascii: "}") {
            index += 1
            return .object(members)
        }
        while true {
            skipWhitespace()
            guard let quote = current, quote == UInt8(ascii: "\"") || (lenient && quote == UInt8(ascii: "'")) else {
                throw error("expected a string key in object")
            }
            let key = try parseString(quote: quote)
            skipWhitespace()
            guard current == UInt8(ascii: ":") else { throw error("expected ':' after object key") }
            index += 1
            skipWhitespace()
            if depth == 2, key == captureKey, current == UInt8(ascii: "[") {
                let start = index
                try skipValue(depth: depth)
                captured = start..<index
                members[key] = .null
            } else {
                members[key] = try parseValue(depth: depth)
            }
            skipWhitespace()
            switch current {
            case UInt8(ascii: ","): index += 1
            case UInt8(ascii: "}"): index += 1; return .object(members)
            case nil: throw error("unexpected end of input inside an object")
            default: throw error("expected ',' or '}' in object")
            }
        }
    }

    mutating func parseArray(depth: Int) throws(JSONParseError) -> JSONValue {
        guard depth <= JSONParser.maximumDepth else { throw error("nested deeper than \(JSONParser.maximumDepth) levels") }
        index += 1
        var elements: [JSONValue] = []
        skipWhitespace()
        if current == UInt8(ascii: "]") {
            index += 1
            return .array(elements)
        }
        while true {
            skipWhitespace()
            elements.append(try parseValue(depth: depth))
            skipWhitespace()
            switch current {
            case UInt8(ascii: ","): index += 1
            case UInt8(ascii: "]"): index += 1; return .array(elements)
            case nil: throw error("unexpected end of input inside a list")
            default: throw error("expected ',' or ']' in list")
            }
        }
    }

    /// Steps over one value, checking only bracket nesting and string boundaries; the
    /// value is validated when it is parsed later.
    public mutating func skipValue(depth: Int) throws(JSONParseError) {
        var nesting = 0
        repeat {
            guard let byte = current else { throw error("unexpected end of input inside a list") }
            switch byte {
            case UInt8(ascii: "["), UInt8(ascii: "{"):
                nesting += 1
                guard depth + nesting <= JSONParser.maximumDepth else { throw error("nested deeper than \(JSONParser.maximumDepth) levels") }
                index += 1
            case UInt8(ascii: "]"), UInt8(ascii: "}"):
                nesting -= 1
                index += 1
            case UInt8(ascii: "\""):
                index = ByteScan.firstStringSpecial(in: bytes, from: index + 1)
                while let inner = current, inner != UInt8(ascii: "\"") {
                    index = ByteScan.firstStringSpecial(in: bytes, from: index + (inner == UInt8(ascii: "\\") ? 2 : 1))
                }
                guard current != nil else { throw error("unterminated string") }
                index += 1
            default:
                // Inside a list or object, numbers, commas and keywords need no look.
                index = nesting > 0 ? ByteScan.firstStructural(in: bytes, from: index + 1) : index + 1
            }
        } while nesting > 0
    }

    // MARK: Strings

    /// The UTF-8 text of `bytes`, or nil if it is not valid UTF-8. ASCII (keys, names, type
    /// spellings) skips the generic validating initializer, which looked up generic metadata
    /// at run time on every call: a quarter of parsing a small request.
    static func string(validating bytes: UnsafeRawBufferPointer) -> String? {
        let utf8 = bytes.assumingMemoryBound(to: UInt8.self)
        if ByteScan.isASCII(bytes) { return String(decoding: utf8, as: UTF8.self) }
        return String(validating: utf8, as: UTF8.self)
    }

    public mutating func parseString(quote: UInt8) throws(JSONParseError) -> String {
        index += 1
        let start = index
        // Fast path: no escapes, just validate the UTF-8 slice.
        while index < bytes.count {
            if quote == UInt8(ascii: "\"") {
                index = ByteScan.firstStringSpecial(in: bytes, from: index)
                guard index < bytes.count else { break }
            }
            let byte = bytes[index]
            if byte == quote {
                let slice = UnsafeRawBufferPointer(rebasing: bytes[start..<index])
                index += 1
                guard let string = Self.string(validating: slice) else {
                    throw JSONParseError(offset: start, reason: "string is not valid UTF-8")
                }
                return string
            }
            if byte == UInt8(ascii: "\\") || byte < 0x20 { break }
            index += 1
        }
        var buffer: [UInt8] = Array(UnsafeRawBufferPointer(rebasing: bytes[start..<index]))
        while true {
            guard let byte = current else { throw error("unterminated string") }
            if byte == quote {
                index += 1
                guard let string = String(validating: buffer, as: UTF8.self) else {
                    throw JSONParseError(offset: start, reason: "string is not valid UTF-8")
                }
                return string
            }
            if byte < 0x20 { throw error("control character in string (escape it as \\u00\(byte < 16 ? "0" : "")\(String(byte, radix: 16)))") }
            if byte != UInt8(ascii: "\\") {
                buffer.append(byte)
                index += 1
                continue
            }
            index += 1
            guard let escape = current else { throw error("unterminated escape") }
            index += 1
            switch escape {
            case UInt8(ascii: "\""): buffer.append(0x22)
            case UInt8(ascii: "\\"): buffer.append(0x5C)
            case UInt8(ascii: "/"): buffer.append(0x2F)
            case UInt8(ascii: "b"): buffer.append(0x08)
            case UInt8(ascii: "f"): buffer.append(0x0C)
            case UInt8(ascii: "n"): buffer.append(0x0A)
            case UInt8(ascii: "r"): buffer.append(0x0D)
            case UInt8(ascii: "t"): buffer.append(0x09)
            case UInt8(ascii: "'") where lenient: buffer.append(0x27)
            case UInt8(ascii: "u"):
                let scalar = try parseUnicodeEscape()
                appendUTF8(scalar, to: &buffer)
            default:
                index -= 1
                throw error("invalid escape '\\\(printable(escape))'")
            }
        }
    }

    private mutating func parseHex4() throws(JSONParseError) -> UInt32 {
        guard index + 4 <= bytes.count else { throw error("truncated \\u escape") }
        var value: UInt32 = 0
        for _ in 0..<4 {
            let byte = bytes[index]
            let digit: UInt32
            switch byte {
            case UInt8(ascii: "0")...UInt8(ascii: "9"): digit = UInt32(byte - UInt8(ascii: "0"))
            case UInt8(ascii: "a")...UInt8(ascii: "f"): digit = UInt32(byte - UInt8(ascii: "a") + 10)
            case UInt8(ascii: "A")...UInt8(ascii: "F"): digit = UInt32(byte - UInt8(ascii: "A") + 10)
            default: throw error("invalid hex digit in \\u escape")
            }
            value = value << 4 | digit
            index += 1
        }
        return value
    }

    private mutating func parseUnicodeEscape() throws(JSONParseError) -> UInt32 {
        let first = try parseHex4()
        switch first {
        case 0xD800...0xDBFF:
            guard index + 2 <= bytes.count, bytes[index] == UInt8(ascii: "\\"), bytes[index + 1] == UInt8(ascii: "u") else {
                throw error("lone surrogate \\u\(String(first, radix: 16)) cannot be represented")
            }
            index += 2
            let second = try parseHex4()
            guard (0xDC00...0xDFFF).contains(second) else {
                throw error("lone surrogate \\u\(String(first, radix: 16)) cannot be represented")
            }
            return 0x10000 + ((first - 0xD800) << 10) + (second - 0xDC00)
        case 0xDC00...0xDFFF:
            throw error("lone surrogate \\u\(String(first, radix: 16)) cannot be represented")
        default:
            return first
        }
    }

    private func appendUTF8(_ scalar: UInt32, to buffer: inout [UInt8]) {
        switch scalar {
        case 0..<0x80:
            buffer.append(UInt8(scalar))
        case 0x80..<0x800:
            buffer.append(UInt8(0xC0 | (scalar >> 6)))
            buffer.append(UInt8(0x80 | (scalar & 0x3F)))
        case 0x800..<0x10000:
            buffer.append(UInt8(0xE0 | (scalar >> 12)))
            buffer.append(UInt8(0x80 | ((scalar >> 6) & 0x3F)))
            buffer.append(UInt8(0x80 | (scalar & 0x3F)))
        default:
            buffer.append(UInt8(0xF0 | (scalar >> 18)))
            buffer.append(UInt8(0x80 | ((scalar >> 12) & 0x3F)))
            buffer.append(UInt8(0x80 | ((scalar >> 6) & 0x3F)))
            buffer.append(UInt8(0x80 | (scalar & 0x3F)))
        }
    }
}
