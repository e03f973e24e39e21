/// Where values go as they are written straight from Python (`PythonToJSON`): JSON text or
/// MessagePack, the encoding of the connection the answer is for. Lists are announced with
/// their length (MessagePack needs it first) and their elements separated (JSON needs commas).
public protocol ValueWriter {
    mutating func bool(_ value: Bool)
    mutating func int(_ value: Int)
    /// An integer beyond 64 bits, as its canonical decimal digits (a leading `-` when negative).
    mutating func bigInt(digits: UnsafeRawBufferPointer)
    mutating func double(_ value: Double)
    mutating func string(utf8: UnsafeBufferPointer<UInt8>)
    mutating func beginList(count: Int)
    /// Before each element but the first.
    mutating func listSeparator()
    mutating func endList()
    /// A whole list of `count` doubles read from memory in this machine's byte order, the
    /// first at `start` and each next one `stride` bytes on (negative when going backwards):
    /// a row of a numpy array. Writes what `beginList`, `double` for each and `endList` would.
    mutating func doubleList(at start: UnsafeRawPointer, count: Int, stride: Int)
    /// Room for what is about to be written: `numbers` numbers, none longer than
    /// `longestText` bytes as JSON text, in `lists` lists. A hint, given before a whole array
    /// is written, so that the answer's buffer grows once instead of copying itself at every
    /// doubling (for a numpy 300×300 answer in MessagePack that copying cost as much as
    /// writing the floats).
    mutating func reserve(numbers: Int, longestText: Int, lists: Int)
}

extension ValueWriter {
    /// Element by element, each as `double` writes it (JSON text prints every double anyway).
    public mutating func doubleList(at start: UnsafeRawPointer, count: Int, stride: Int) {
        beginList(count: count)
        for index in 0..<count {
            if index > 0 { listSeparator() }
            double(start.advanced(by: index * stride).loadUnaligned(as: Double.self))
        }
        endList()
    }
}

extension JSONWriter: ValueWriter {
    /// Each number with its separator, each list with its brackets and separator, and the
    /// few bytes that close the answer after the array (`]}}` and a newline), so that even
    /// numbers of the longest text do not make it grow again at its very end.
    public mutating func reserve(numbers: Int, longestText: Int, lists: Int) {
        let array = ByteCount.sum(ByteCount.product(numbers, longestText + 1), ByteCount.product(lists, 3))
        bytes.reserve(more: ByteCount.sum(array, 16))
    }

    public mutating func bool(_ value: Bool) {
        value ? raw("true") : raw("false")
    }

    public mutating func bigInt(digits: UnsafeRawBufferPointer) {
        raw(bytes: digits)
    }

    public mutating func beginList(count: Int) {
        raw(UInt8(ascii: "["))
    }

    public mutating func listSeparator() {
        raw(UInt8(ascii: ","))
    }

    public mutating func endList() {
        raw(UInt8(ascii: "]"))
    }
}

extension MessagePackWriter: ValueWriter {
    /// Exact for float64s with the largest array headers (no number takes more than 9 bytes).
    public mutating func reserve(numbers: Int, longestText: Int, lists: Int) {
        bytes.reserve(more: ByteCount.sum(ByteCount.product(numbers, 9), ByteCount.product(lists, 5)))
    }

    public mutating func bigInt(digits: UnsafeRawBufferPointer) {
        bigInt(String(decoding: digits, as: UTF8.self))
    }

    public mutating func double(_ value: Double) {
        float64(value)
    }

    public mutating func beginList(count: Int) {
        arrayHeader(count: count)
    }

    public mutating func listSeparator() {}

    public mutating func endList() {}

    /// The header, then the whole run in one go (`float64s`), not a call per element.
    public mutating func doubleList(at start: UnsafeRawPointer, count: Int, stride: Int) {
        arrayHeader(count: count)
        float64s(at: start, count: count, stride: stride)
    }
}

extension JSONWriter {
    /// The longest text `double` writes for a finite double (`-2.2250738585072014e-308`).
    public static let longestDouble = 24
    /// The longest text of a 64-bit integer (`-9223372036854775808`, `18446744073709551615`).
    public static let longestInt = 20
}

extension [UInt8] {
    /// Makes room for `more` bytes (at most `ByteCount.largestReservation`), at least
    /// doubling the capacity when it grows: room for exactly what each row of an array needs
    /// would copy the buffer once per row.
    mutating func reserve(more: Int) {
        let needed = count + Swift.min(more, ByteCount.largestReservation)
        if needed > capacity { reserveCapacity(Swift.max(needed, capacity * 2)) }
    }
}

/// Sizes from an array's shape, which need not fit in memory (a numpy view broadcast with
/// zero strides can claim 10^18 elements): saturating instead of trapping.
public enum ByteCount {
    /// The most one `reserve` asks for (beyond it the buffer grows by doubling as usual):
    /// asking too much for an array of short numbers costs address space, not memory, but
    /// should stay far below what a machine can map.
    public static let largestReservation = 64 << 20

    public static func product(_ a: Int, _ b: Int) -> Int {
        let (result, overflow) = a.multipliedReportingOverflow(by: b)
        return overflow ? .max : result
    }

    public static func sum(_ a: Int, _ b: Int) -> Int {
        let (result, overflow) = a.addingReportingOverflow(b)
        return overflow ? .max : result
    }
}
