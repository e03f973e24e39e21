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
