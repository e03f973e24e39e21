/// Appends MessagePack to a byte buffer, always in the smallest encoding the spec offers, so
/// that one value has one encoding (a fuzz oracle and byte-exact tests rely on it).
///
/// ```swift
/// let body = MessagePackWriter.encode(["header": "RPC-RES", "value": ["id": 7]] as JSONValue)
///
/// var writer = MessagePackWriter()   // or piece by piece, without a JSONValue tree:
/// writer.mapHeader(count: 1)
/// writer.string("result")
/// writer.float64(2.5)
/// ```
/// Floats are always float64, NaN and ±infinity included. Integers beyond 64 bits are
/// extension type 1 with their decimal digits; map keys are written sorted.
public struct MessagePackWriter {
    public var bytes: [UInt8]

    public init(capacity: Int = 256) {
        bytes = []
        bytes.reserveCapacity(capacity)
    }

    /// `value`'s encoding as a new buffer.
    public static func encode(_ value: JSONValue) -> [UInt8] {
        var writer = MessagePackWriter()
        writer.value(value)
        return writer.bytes
    }

    /// Appends `value`'s encoding to `buffer` (no copy of what it already holds).
    public static func encode(_ value: JSONValue, appendingTo buffer: inout [UInt8]) {
        var writer = MessagePackWriter(capacity: 0)
        swap(&writer.bytes, &buffer)
        writer.value(value)
        swap(&writer.bytes, &buffer)
    }

    // MARK: Values

    /// Writes any value.
    public mutating func value(_ value: JSONValue) {
        switch value {
        case .null: null()
        case .bool(let flag): bool(flag)
        case .int(let integer): int(integer)
        case .bigInt(let text): bigInt(text)
        case .float(let number): float64(number)
        case .string(let text): string(text)
        case .array(let elements):
            arrayHeader(count: elements.count)
            for element in elements { self.value(element) }
        case .object(let members):
            // Sorted, so that equal objects are equal bytes whatever their dictionaries' order.
            mapHeader(count: members.count)
            for (key, member) in members.sorted(by: { $0.key < $1.key }) {
                string(key)
                self.value(member)
            }
        }
    }

    public mutating func null() {
        bytes.append(0xC0)
    }

    public mutating func bool(_ value: Bool) {
        bytes.append(value ? 0xC3 : 0xC2)
    }

    /// The smallest of fixint, uint 8/16/32/64 (non-negative) and int 8/16/32/64 (negative).
    public mutating func int(_ value: Int) {
        if value >= 0 {
            uint(UInt64(value))
        } else if value >= -32 {
            bytes.append(UInt8(truncatingIfNeeded: value))  // negative fixint 0xe0...0xff
        } else if value >= Int(Int8.min) {
            append(0xD0, UInt8(truncatingIfNeeded: value))
        } else if value >= Int(Int16.min) {
            append(0xD1, UInt16(truncatingIfNeeded: value))
        } else if value >= Int(Int32.min) {
            append(0xD2, UInt32(truncatingIfNeeded: value))
        } else {
            append(0xD3, UInt64(truncatingIfNeeded: value))
        }
    }

    /// The smallest of positive fixint and uint 8/16/32/64.
    public mutating func uint(_ value: UInt64) {
        if value <= 0x7F {
            bytes.append(UInt8(value))
        } else if value <= UInt64(UInt8.max) {
            append(0xCC, UInt8(value))
        } else if value <= UInt64(UInt16.max) {
            append(0xCD, UInt16(value))
        } else if value <= UInt64(UInt32.max) {
            append(0xCE, UInt32(value))
        } else {
            append(0xCF, value)
        }
    }

    /// An integer given as decimal text (`JSONValue.bigInt`): a MessagePack integer when it
    /// fits 64 bits, else extension type 1 holding the text. The text must be canonical
    /// (`-?[1-9][0-9]*`), as `bigInt` promises; the reader refuses anything else.
    public mutating func bigInt(_ text: String) {
        if let small = Int(text) {
            int(small)
        } else if let large = UInt64(text) {
            uint(large)
        } else {
            var text = text
            text.withUTF8 { extensionValue(type: MessagePackReader.bigIntExtensionType, payload: UnsafeRawBufferPointer($0)) }
        }
    }

    /// Always float64 (0xcb): exact for every Double, NaN and infinities included.
    public mutating func float64(_ value: Double) {
        append(0xCB, value.bitPattern)
    }

    /// `count` float64s read from memory in this machine's byte order, the first at `start`
    /// and each next one `stride` bytes on: the same bytes as `float64` for each (a numpy
    /// array's row of 90,000 doubles is one call). They are put together in a chunk on the
    /// stack and appended a chunk at a time: an array cannot grow uninitialized, and growing
    /// it by zeros to overwrite went through the zeros one by one.
    public mutating func float64s(at start: UnsafeRawPointer, count: Int, stride: Int) {
        guard count > 0 else { return }
        bytes.reserve(more: ByteCount.product(count, 9))
        let chunkCount = 256
        withUnsafeTemporaryAllocation(byteCount: 9 * chunkCount, alignment: 8) { chunk in
            var source = start
            var left = count
            while left > 0 {
                let taken = min(left, chunkCount)
                var target = chunk.baseAddress!
                for _ in 0..<taken {
                    target.storeBytes(of: 0xCB, as: UInt8.self)
                    target.storeBytes(of: source.loadUnaligned(as: UInt64.self).bigEndian, toByteOffset: 1, as: UInt64.self)
                    target += 9
                    source += stride
                }
                bytes.append(contentsOf: UnsafeRawBufferPointer(rebasing: chunk[..<(9 * taken)]))
                left -= taken
            }
        }
    }

    public mutating func string(_ value: String) {
        var value = value
        value.withUTF8 { string(utf8: $0) }
    }

    /// A str from UTF-8 text (already valid UTF-8): fixstr, str 8, 16 or 32 by its length.
    public mutating func string(utf8: UnsafeBufferPointer<UInt8>) {
        let count = utf8.count
        if count <= 31 {
            bytes.append(0xA0 | UInt8(count))
        } else if count <= Int(UInt8.max) {
            append(0xD9, UInt8(count))
        } else if count <= Int(UInt16.max) {
            append(0xDA, UInt16(count))
        } else {
            append(0xDB, Self.length32(count, of: "a str"))
        }
        bytes.append(contentsOf: utf8)
    }

    /// The header of a list of `count` elements; the elements follow, written one by one.
    public mutating func arrayHeader(count: Int) {
        if count <= 15 {
            bytes.append(0x90 | UInt8(count))
        } else if count <= Int(UInt16.max) {
            append(0xDC, UInt16(count))
        } else {
            append(0xDD, Self.length32(count, of: "a list"))
        }
    }

    /// The header of a map of `count` entries; each entry follows as a str key, then its value.
    public mutating func mapHeader(count: Int) {
        if count <= 15 {
            bytes.append(0x80 | UInt8(count))
        } else if count <= Int(UInt16.max) {
            append(0xDE, UInt16(count))
        } else {
            append(0xDF, Self.length32(count, of: "a map"))
        }
    }

    /// An extension value: fixext when the payload is 1, 2, 4, 8 or 16 bytes, else ext 8/16/32.
    public mutating func extensionValue(type: Int8, payload: UnsafeRawBufferPointer) {
        let typeByte = UInt8(bitPattern: type)
        switch payload.count {
        case 1: append(0xD4, typeByte)
        case 2: append(0xD5, typeByte)
        case 4: append(0xD6, typeByte)
        case 8: append(0xD7, typeByte)
        case 16: append(0xD8, typeByte)
        case ...Int(UInt8.max): append(0xC7, UInt8(payload.count)); bytes.append(typeByte)
        case ...Int(UInt16.max): append(0xC8, UInt16(payload.count)); bytes.append(typeByte)
        default: append(0xC9, Self.length32(payload.count, of: "an extension")); bytes.append(typeByte)
        }
        bytes.append(contentsOf: payload)
    }

    // MARK: Bytes

    /// A type byte followed by `field` in big-endian order.
    @inline(__always)
    private mutating func append<Field: FixedWidthInteger>(_ type: UInt8, _ field: Field) {
        bytes.append(type)
        withUnsafeBytes(of: field.bigEndian) { bytes.append(contentsOf: $0) }
    }

    /// MessagePack cannot say a length beyond 32 bits; nothing pyrpc sends comes near it.
    private static func length32(_ count: Int, of what: StaticString) -> UInt32 {
        guard let length = UInt32(exactly: count) else {
            preconditionFailure("\(what) of \(count) is longer than MessagePack can encode (2^32 - 1)")
        }
        return length
    }
}
