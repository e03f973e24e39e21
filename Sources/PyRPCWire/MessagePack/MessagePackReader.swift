/// Malformed MessagePack, with the byte offset where reading stopped.
public struct MessagePackError: Error, Sendable, Equatable, CustomStringConvertible {
    /// Where the offending item starts (or where the input ended early), from the body's first byte.
    public let offset: Int
    public let message: String

    public init(offset: Int, message: String) {
        self.offset = offset
        self.message = message
    }

    public var description: String { "invalid MessagePack at byte \(offset): \(message)" }
}

/// A strict MessagePack reader into the same `JSONValue` model the JSON parser produces, so
/// that everything after decoding is shared by both encodings.
///
/// ```swift
/// let message = try MessagePackReader.decode(body)   // body: exactly one value
/// ```
/// Only what JSON can say is accepted: str map keys, no duplicates, no bin, and of the
/// extension types only type 1 (an integer beyond 64 bits as its decimal digits). Floats are
/// the exception: NaN and ±infinity are plain float64 values here. Nesting is limited as in
/// `JSONParser`, so whatever one encoding carries the other can parse.
public enum MessagePackReader {
    /// Nesting deeper than this is rejected: the same bound as `JSONParser`.
    public static let maximumDepth = JSONParser.maximumDepth

    /// The extension type that carries an integer beyond 64 bits as decimal ASCII.
    public static let bigIntExtensionType: Int8 = 1

    /// The one value that `bytes` holds; trailing bytes are an error.
    public static func decode(_ bytes: UnsafeRawBufferPointer) throws(MessagePackError) -> JSONValue {
        var scanner = MessagePackScanner(bytes: bytes)
        guard !bytes.isEmpty else { throw scanner.error("empty input, expected a value") }
        let value = try scanner.readValue(depth: 0)
        guard scanner.index == bytes.count else {
            throw scanner.error("\(MessagePackScanner.plural(bytes.count - scanner.index, "unexpected byte")) after the value")
        }
        return value
    }

    public static func decode(_ bytes: [UInt8]) throws(MessagePackError) -> JSONValue {
        let result: Result<JSONValue, MessagePackError> = bytes.withUnsafeBytes { buffer in
            Result { () throws(MessagePackError) -> JSONValue in try decode(buffer) }
        }
        return try result.get()
    }
}

/// The recursive reader behind `MessagePackReader`: an index walking the bytes.
///
/// Lengths are checked against what is left before anything is allocated. Containers go
/// further: `promised` counts the bytes that the elements still owed by every open list and
/// map need at the least (one per element, two per map entry), so a list that claims more
/// elements than could ever fit, even nested under others making the same claim, is refused
/// at its header, and the capacity reserved for all open containers together stays within
/// the size of the input.
public struct MessagePackScanner {
    public let bytes: UnsafeRawBufferPointer
    public var index = 0
    private var promised = 0

    public init(bytes: UnsafeRawBufferPointer) {
        self.bytes = bytes
    }

    func error(_ message: String, at offset: Int? = nil) -> MessagePackError {
        MessagePackError(offset: offset ?? index, message: message)
    }

    /// Bytes after `index` that no open container has claimed yet.
    private var unclaimed: Int { bytes.count - index - promised }

    // MARK: Values

    public mutating func readValue(depth: Int) throws(MessagePackError) -> JSONValue {
        guard index < bytes.count else { throw error("unexpected end of input, expected a value") }
        let start = index
        let tag = bytes[index]
        index += 1
        switch tag {
        case 0x00...0x7F: return .int(Int(tag))
        case 0x80...0x8F: return try readMap(count: Int(tag & 0x0F), depth: depth + 1, start: start)
        case 0x90...0x9F: return try readArray(count: Int(tag & 0x0F), depth: depth + 1, start: start)
        case 0xA0...0xBF: return .string(try readString(length: Int(tag & 0x1F), start: start))
        case 0xC0: return .null
        case 0xC2: return .bool(false)
        case 0xC3: return .bool(true)
        case 0xC4...0xC6: throw error("bin (raw bytes) is not allowed, send text as str", at: start)
        case 0xC7: return try readExtension(length: Int(try readBigEndian(UInt8.self)), start: start)
        case 0xC8: return try readExtension(length: Int(try readBigEndian(UInt16.self)), start: start)
        case 0xC9: return try readExtension(length: Int(try readBigEndian(UInt32.self)), start: start)
        case 0xCA: return .float(Double(Float(bitPattern: try readBigEndian(UInt32.self))))
        case 0xCB: return .float(Double(bitPattern: try readBigEndian(UInt64.self)))
        case 0xCC: return .int(Int(try readBigEndian(UInt8.self)))
        case 0xCD: return .int(Int(try readBigEndian(UInt16.self)))
        case 0xCE: return .int(Int(try readBigEndian(UInt32.self)))
        case 0xCF:
            let value = try readBigEndian(UInt64.self)
            return value <= UInt64(Int.max) ? .int(Int(value)) : .bigInt(String(value))
        case 0xD0: return .int(Int(Int8(bitPattern: try readBigEndian(UInt8.self))))
        case 0xD1: return .int(Int(Int16(bitPattern: try readBigEndian(UInt16.self))))
        case 0xD2: return .int(Int(Int32(bitPattern: try readBigEndian(UInt32.self))))
        case 0xD3: return .int(Int(Int64(bitPattern: try readBigEndian(UInt64.self))))
        case 0xD4: return try readExtension(length: 1, start: start)
        case 0xD5: return try readExtension(length: 2, start: start)
        case 0xD6: return try readExtension(length: 4, start: start)
        case 0xD7: return try readExtension(length: 8, start: start)
        case 0xD8: return try readExtension(length: 16, start: start)
        case 0xD9: return .string(try readString(length: Int(try readBigEndian(UInt8.self)), start: start))
        case 0xDA: return .string(try readString(length: Int(try readBigEndian(UInt16.self)), start: start))
        case 0xDB: return .string(try readString(length: Int(try readBigEndian(UInt32.self)), start: start))
        case 0xDC: return try readArray(count: Int(try readBigEndian(UInt16.self)), depth: depth + 1, start: start)
        case 0xDD: return try readArray(count: Int(try readBigEndian(UInt32.self)), depth: depth + 1, start: start)
        case 0xDE: return try readMap(count: Int(try readBigEndian(UInt16.self)), depth: depth + 1, start: start)
        case 0xDF: return try readMap(count: Int(try readBigEndian(UInt32.self)), depth: depth + 1, start: start)
        case 0xE0...0xFF: return .int(Int(Int8(bitPattern: tag)))
        default: throw error("\(Self.hex(tag)) is not a MessagePack type (the spec never uses it)", at: start)
        }
    }

    /// The fixed-width big-endian number after a type byte.
    @inline(__always)
    mutating func readBigEndian<Number: FixedWidthInteger & UnsignedInteger>(_: Number.Type) throws(MessagePackError) -> Number {
        let size = MemoryLayout<Number>.size
        guard size <= bytes.count - index else {
            throw error("unexpected end of input, expected \(Self.plural(size, "more byte")) of a \(size * 8)-bit field")
        }
        let value = Number(bigEndian: bytes.loadUnaligned(fromByteOffset: index, as: Number.self))
        index += size
        return value
    }

    // MARK: Containers

    private mutating func readArray(count: Int, depth: Int, start: Int) throws(MessagePackError) -> JSONValue {
        try open(claiming: count, kind: "list of \(Self.plural(count, "element"))", depth: depth, start: start)
        var elements: [JSONValue] = []
        elements.reserveCapacity(count)
        for _ in 0..<count {
            promised -= 1
            if let number = readPlainNumber() {
                elements.append(number)
            } else {
                elements.append(try readValue(depth: depth))
            }
        }
        return .array(elements)
    }

    /// A float64 or a positive fixint read in line, nil for anything else (left unread):
    /// lists of numbers are most of a large message, and the general `readValue` call per
    /// element cost three times as much on a 100,000-float list.
    @inline(__always)
    private mutating func readPlainNumber() -> JSONValue? {
        guard index < bytes.count else { return nil }
        let tag = bytes[index]
        if tag == 0xCB, bytes.count - index >= 9 {
            let bits = UInt64(bigEndian: bytes.loadUnaligned(fromByteOffset: index + 1, as: UInt64.self))
            index += 9
            return .float(Double(bitPattern: bits))
        }
        if tag <= 0x7F {
            index += 1
            return .int(Int(tag))
        }
        return nil
    }

    private mutating func readMap(count: Int, depth: Int, start: Int) throws(MessagePackError) -> JSONValue {
        try open(claiming: 2 * count, kind: "map of \(count) \(count == 1 ? "entry" : "entries")", depth: depth, start: start)
        var members: [String: JSONValue] = Dictionary(minimumCapacity: count)
        for _ in 0..<count {
            promised -= 2
            let keyStart = index
            let key = try readKey()
            let value = try readValue(depth: depth)
            guard members.updateValue(value, forKey: key) == nil else {
                throw error("duplicate map key \(key.debugDescription)", at: keyStart)
            }
        }
        return .object(members)
    }

    /// Checks a container's depth and that its elements can fit, then counts them as promised.
    private mutating func open(claiming minimumBytes: Int, kind: @autoclosure () -> String, depth: Int, start: Int) throws(MessagePackError) {
        guard depth <= MessagePackReader.maximumDepth else {
            throw error("nested deeper than \(MessagePackReader.maximumDepth) levels", at: start)
        }
        guard minimumBytes <= unclaimed else {
            let left = bytes.count - index
            let owed = promised > 0 ? ", of which the enclosing lists and maps still need \(promised)" : ""
            throw error("a \(kind()) cannot fit in the \(Self.plural(left, "byte")) left\(owed)", at: start)
        }
        promised += minimumBytes
    }

    /// A map key: str only, as JSON object keys are.
    private mutating func readKey() throws(MessagePackError) -> String {
        guard index < bytes.count else { throw error("unexpected end of input, expected a map key") }
        let start = index
        let tag = bytes[index]
        index += 1
        switch tag {
        case 0xA0...0xBF: return try readString(length: Int(tag & 0x1F), start: start)
        case 0xD9: return try readString(length: Int(try readBigEndian(UInt8.self)), start: start)
        case 0xDA: return try readString(length: Int(try readBigEndian(UInt16.self)), start: start)
        case 0xDB: return try readString(length: Int(try readBigEndian(UInt32.self)), start: start)
        default: throw error("map keys must be str, found type byte \(Self.hex(tag))", at: start)
        }
    }

    // MARK: Strings and extensions

    private mutating func readString(length: Int, start: Int) throws(MessagePackError) -> String {
        guard length <= bytes.count - index else {
            throw error("a str of \(Self.plural(length, "byte")) runs past the end of the input (\(bytes.count - index) left)", at: start)
        }
        let utf8 = UnsafeRawBufferPointer(rebasing: bytes[index..<index + length])
        guard let string = JSONScanner.string(validating: utf8) else {
            throw error("str is not valid UTF-8", at: start)
        }
        index += length
        return string
    }

    /// An extension value: only type 1, an integer beyond 64 bits as decimal digits.
    private mutating func readExtension(length: Int, start: Int) throws(MessagePackError) -> JSONValue {
        let type = Int8(bitPattern: try readBigEndian(UInt8.self))
        guard type == MessagePackReader.bigIntExtensionType else {
            let what = type == -1 ? "the timestamp extension (type -1)" : "extension type \(type)"
            throw error("\(what) is not allowed, only type 1 (a big integer as decimal text)", at: start)
        }
        guard length <= bytes.count - index else {
            throw error("an extension of \(Self.plural(length, "byte")) runs past the end of the input (\(bytes.count - index) left)", at: start)
        }
        let digits = UnsafeRawBufferPointer(rebasing: bytes[index..<index + length])
        guard let value = Self.integer(decimal: digits) else {
            throw error("a big integer (extension type 1) must be canonical decimal digits, an optional '-' first, no leading zeros", at: start)
        }
        index += length
        return value
    }

    /// "0x01", "0xc1": a type byte as the spec writes it.
    static func hex(_ byte: UInt8) -> String {
        (byte < 0x10 ? "0x0" : "0x") + String(byte, radix: 16)
    }

    /// "1 byte", "2 bytes".
    static func plural(_ number: Int, _ noun: String) -> String {
        "\(number) \(noun)\(number == 1 ? "" : "s")"
    }

    /// `-?[0-9]+` without leading zeros or `-0`, as `.int` when it fits and `.bigInt` when not.
    static func integer(decimal text: UnsafeRawBufferPointer) -> JSONValue? {
        let negative = text.first == UInt8(ascii: "-")
        let digits = UnsafeRawBufferPointer(rebasing: text[(negative ? 1 : 0)...])
        guard let first = digits.first, digits.allSatisfy({ $0 >= UInt8(ascii: "0") && $0 <= UInt8(ascii: "9") }) else { return nil }
        guard first != UInt8(ascii: "0") || digits.count == 1 else { return nil }  // leading zero
        guard !(negative && first == UInt8(ascii: "0")) else { return nil }  // "-0"
        let string = String(decoding: text, as: UTF8.self)
        if let small = Int(string) { return .int(small) }
        return .bigInt(string)
    }
}
