/// A double as Swift prints it, the shortest text that reads back as the same double ("0.1",
/// "-0.0", "1e-07"), held on the stack. `Double.description` makes a `String` of it, on the
/// heap whenever it is over 15 bytes, as most doubles printed in full are. Written through
/// `TextOutputStream`, the standard library hands the digits over in a buffer
/// (`_writeASCII`, the requirement its own `String` stream implements for this), so a list
/// of doubles costs no allocation per element. Any other text arrives through `write`. Not
/// for NaN, which this way prints its payload ("-snan(0x…)"): JSON writes it as a string.
struct ShortestDoubleText: TextOutputStream {
    /// 32 bytes: a double's text is at most 24 ("-2.2250738585072014e-308").
    private var storage: (UInt64, UInt64, UInt64, UInt64) = (0, 0, 0, 0)
    private(set) var count = 0

    init(_ value: Double) {
        value.write(to: &self)
    }

    mutating func _writeASCII(_ buffer: UnsafeBufferPointer<UInt8>) {
        append(UnsafeRawBufferPointer(buffer))
    }

    mutating func write(_ string: String) {
        var string = string
        string.withUTF8 { append(UnsafeRawBufferPointer($0)) }
    }

    private mutating func append(_ text: UnsafeRawBufferPointer) {
        let start = count
        withUnsafeMutableBytes(of: &storage) { scratch in
            precondition(start + text.count <= scratch.count, "a double printed in more than 32 bytes")
            UnsafeMutableRawBufferPointer(rebasing: scratch[start...]).copyMemory(from: text)
        }
        count += text.count
    }

    func withBytes<Result>(_ body: (UnsafeRawBufferPointer) -> Result) -> Result {
        withUnsafeBytes(of: storage) { body(UnsafeRawBufferPointer(rebasing: $0.prefix(count))) }
    }
}
