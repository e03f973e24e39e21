/// The scanner's small steps, for readers that go without a value tree: a MessagePack
/// connection's request (`RPCRequest.parseFastMessagePack`) and its arguments, read straight
/// into Python objects. Each step reads one thing of the kind it names and returns nil (or
/// false) for anything else, which those readers hand to `readValue` and the general path.
extension MessagePackScanner {
    /// The type byte at the scanner, unread; nil at the end.
    @inline(__always) public var tag: UInt8? { index < bytes.count ? bytes[index] : nil }

    /// The element count of the list at the scanner, its header read; nil (unmoved) when the
    /// next value is not a list or its header is cut.
    public mutating func arrayHeader() -> Int? { containerHeader(fixed: 0x90...0x9F, wide16: 0xDC) }

    /// The entry count of the map at the scanner, its header read; nil (unmoved) for anything else.
    mutating func mapHeader() -> Int? { containerHeader(fixed: 0x80...0x8F, wide16: 0xDE) }

    /// A list's or a map's count: in the low nibble of a `fixed` type byte, or after `wide16`
    /// (16 bits) or the type byte after it (32 bits).
    private mutating func containerHeader(fixed: ClosedRange<UInt8>, wide16: UInt8) -> Int? {
        guard let tag else { return nil }
        if fixed.contains(tag) {
            index += 1
            return Int(tag & 0x0F)
        }
        guard tag == wide16 || tag == wide16 + 1 else { return nil }
        let start = index
        index += 1
        guard let count = tag == wide16 ? (try? readBigEndian(UInt16.self)).map(Int.init) : (try? readBigEndian(UInt32.self)).map(Int.init) else {
            index = start
            return nil
        }
        return count
    }

    /// The bytes of the str at the scanner, not checked as UTF-8, the scanner past them; nil
    /// (unmoved) for anything else, or a str cut short.
    public mutating func stringBytes() -> UnsafeRawBufferPointer? {
        guard let tag else { return nil }
        let start = index
        index += 1
        let length: Int?
        switch tag {
        case 0xA0...0xBF: length = Int(tag & 0x1F)
        case 0xD9: length = (try? readBigEndian(UInt8.self)).map(Int.init)
        case 0xDA: length = (try? readBigEndian(UInt16.self)).map(Int.init)
        case 0xDB: length = (try? readBigEndian(UInt32.self)).map(Int.init)
        default: length = nil
        }
        guard let length, length <= bytes.count - index else {
            index = start
            return nil
        }
        defer { index += length }
        return UnsafeRawBufferPointer(rebasing: bytes[index..<index + length])
    }

    /// The str at the scanner as a String; nil (unmoved) for anything else or invalid UTF-8.
    mutating func string() -> String? {
        let start = index
        guard let utf8 = stringBytes(), let string = JSONScanner.string(validating: utf8) else {
            index = start
            return nil
        }
        return string
    }

    /// A float64 or float32; nil (unmoved) for anything else.
    @inline(__always) public mutating func double() -> Double? {
        switch tag {
        case 0xCB:
            guard bytes.count - index >= 9 else { return nil }
            defer { index += 9 }
            return Double(bitPattern: UInt64(bigEndian: bytes.loadUnaligned(fromByteOffset: index + 1, as: UInt64.self)))
        case 0xCA:
            guard bytes.count - index >= 5 else { return nil }
            defer { index += 5 }
            return Double(Float(bitPattern: UInt32(bigEndian: bytes.loadUnaligned(fromByteOffset: index + 1, as: UInt32.self))))
        default:
            return nil
        }
    }

    /// An integer of any of MessagePack's forms that fits an Int; nil (unmoved) for anything
    /// else (a uint64 past Int.max is left for `readValue`, which makes it a big int).
    @inline(__always) public mutating func integer() -> Int? {
        guard let tag else { return nil }
        switch tag {
        case 0x00...0x7F: index += 1; return Int(tag)
        case 0xE0...0xFF: index += 1; return Int(Int8(bitPattern: tag))
        case 0xCC...0xCF, 0xD0...0xD3:
            let start = index
            index += 1
            let value: Int?
            switch tag {
            case 0xCC: value = (try? readBigEndian(UInt8.self)).map { Int($0) }
            case 0xCD: value = (try? readBigEndian(UInt16.self)).map { Int($0) }
            case 0xCE: value = (try? readBigEndian(UInt32.self)).map { Int($0) }
            case 0xCF: value = (try? readBigEndian(UInt64.self)).flatMap { Int(exactly: $0) }
            case 0xD0: value = (try? readBigEndian(UInt8.self)).map { Int(Int8(bitPattern: $0)) }
            case 0xD1: value = (try? readBigEndian(UInt16.self)).map { Int(Int16(bitPattern: $0)) }
            case 0xD2: value = (try? readBigEndian(UInt32.self)).map { Int(Int32(bitPattern: $0)) }
            default: value = (try? readBigEndian(UInt64.self)).map { Int(Int64(bitPattern: $0)) }
            }
            if value == nil { index = start }
            return value
        default:
            return nil
        }
    }

    /// A bool; nil (unmoved) for anything else.
    @inline(__always) public mutating func bool() -> Bool? {
        switch tag {
        case 0xC2: index += 1; return false
        case 0xC3: index += 1; return true
        default: return nil
        }
    }

    // MARK: Stepping over a value

    /// Steps over one value, checking it exactly as `readValue(depth:)` would, without building
    /// it: true when it is valid and holds no map. False for an invalid value and for any
    /// value with a map in it (checking a map's keys for duplicates would need them kept; no
    /// argument can be a map anyway): `readValue` then reads it, and refuses it or not, with
    /// its own words. After false the index is meaningless.
    public mutating func skipValue(depth: Int) -> Bool {
        guard let tag else { return false }
        index += 1
        switch tag {
        case 0x00...0x7F, 0xE0...0xFF, 0xC0, 0xC2, 0xC3: return true
        case 0x90...0x9F: return skipArray(count: Int(tag & 0x0F), depth: depth + 1)
        case 0xA0...0xBF: return skipString(length: Int(tag & 0x1F))
        case 0xC7: return (try? readBigEndian(UInt8.self)).map { skipExtension(length: Int($0)) } ?? false
        case 0xC8: return (try? readBigEndian(UInt16.self)).map { skipExtension(length: Int($0)) } ?? false
        case 0xC9: return (try? readBigEndian(UInt32.self)).map { skipExtension(length: Int($0)) } ?? false
        case 0xCC, 0xD0: return skipBytes(1)
        case 0xCD, 0xD1: return skipBytes(2)
        case 0xCA, 0xCE, 0xD2: return skipBytes(4)
        case 0xCB, 0xCF, 0xD3: return skipBytes(8)
        case 0xD4: return skipExtension(length: 1)
        case 0xD5: return skipExtension(length: 2)
        case 0xD6: return skipExtension(length: 4)
        case 0xD7: return skipExtension(length: 8)
        case 0xD8: return skipExtension(length: 16)
        case 0xD9: return (try? readBigEndian(UInt8.self)).map { skipString(length: Int($0)) } ?? false
        case 0xDA: return (try? readBigEndian(UInt16.self)).map { skipString(length: Int($0)) } ?? false
        case 0xDB: return (try? readBigEndian(UInt32.self)).map { skipString(length: Int($0)) } ?? false
        case 0xDC: return (try? readBigEndian(UInt16.self)).map { skipArray(count: Int($0), depth: depth + 1) } ?? false
        case 0xDD: return (try? readBigEndian(UInt32.self)).map { skipArray(count: Int($0), depth: depth + 1) } ?? false
        default: return false  // maps, bin, 0xC1
        }
    }

    /// Steps over a list as `skipValue` does; false for any other value (a request's
    /// `arguments` must be one).
    public mutating func skipList(depth: Int) -> Bool {
        guard let tag, (0x90...0x9F).contains(tag) || tag == 0xDC || tag == 0xDD else { return false }
        return skipValue(depth: depth)
    }

    private mutating func skipArray(count: Int, depth: Int) -> Bool {
        // Each element takes a byte at the least.
        guard depth <= MessagePackReader.maximumDepth, count <= bytes.count - index else { return false }
        var left = count
        while left > 0 {
            // float64s in line: the bulk case, 100,000 of them in a list.
            left -= float64s(upTo: left) { _ in }
            guard left > 0 else { break }
            guard skipValue(depth: depth) else { return false }
            left -= 1
        }
        return true
    }

    /// Reads up to `limit` float64s in a row, handing each to `body`; how many it read. The
    /// loop keeps its place in registers (a step of the scanner's own index costs a store and a
    /// load per number, five times the loop): the bulk of a list of floats goes through here.
    /// Inlinable, so that the Python module's `body` is inlined too, not called per number.
    @inlinable @inline(__always)
    public mutating func float64s(upTo limit: Int, _ body: (Double) -> Void) -> Int {
        guard let base = bytes.baseAddress else { return 0 }
        let end = bytes.count
        var at = index
        var read = 0
        while read < limit, end &- at >= 9, base.load(fromByteOffset: at, as: UInt8.self) == 0xCB {
            body(Double(bitPattern: UInt64(bigEndian: base.loadUnaligned(fromByteOffset: at &+ 1, as: UInt64.self))))
            at &+= 9
            read &+= 1
        }
        index = at
        return read
    }

    private mutating func skipBytes(_ count: Int) -> Bool {
        guard count <= bytes.count - index else { return false }
        index += count
        return true
    }

    private mutating func skipString(length: Int) -> Bool {
        guard length <= bytes.count - index else { return false }
        let utf8 = UnsafeRawBufferPointer(rebasing: bytes[index..<index + length])
        guard ByteScan.isASCII(utf8) || JSONScanner.string(validating: utf8) != nil else { return false }
        index += length
        return true
    }

    private mutating func skipExtension(length: Int) -> Bool {
        guard let type = try? readBigEndian(UInt8.self), Int8(bitPattern: type) == MessagePackReader.bigIntExtensionType,
              length <= bytes.count - index,
              Self.integer(decimal: UnsafeRawBufferPointer(rebasing: bytes[index..<index + length])) != nil else { return false }
        index += length
        return true
    }
}
